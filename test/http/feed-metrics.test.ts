/**
 * The event feed's metrics from the link's view: subscriptions split into
 * the first, reconnections after a drop, and renewals of the token;
 * which token the feed connects with; and the times it was found deaf.
 */
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { MetricsSources } from '../../src/http/metrics.js';
import { registerOwnMetrics } from '../../src/http/own-metrics.js';
import type { EventFeedView } from '../../src/queue/event-feed-link.js';

function metricsOf(view: Partial<EventFeedView> | undefined): Promise<string> {
  const registry = new Registry();
  registerOwnMetrics(registry, () => ({ eventFeed: view && (() => view) }) as unknown as MetricsSources);
  return registry.metrics();
}

describe('event feed metrics', () => {
  it('count renewals apart from reconnections, and say which token the feed uses', async () => {
    const text = await metricsOf({ state: 'connected', token: 'root', status: { connects: 5, renewals: 2 } as EventFeedView['status'] });
    assert.match(text, /^arvados_dispatchcloud_event_feed_subscriptions_total\{kind="first"\} 1$/m);
    assert.match(text, /^arvados_dispatchcloud_event_feed_subscriptions_total\{kind="reconnect"\} 2$/m);
    assert.match(text, /^arvados_dispatchcloud_event_feed_subscriptions_total\{kind="renewal"\} 2$/m);
    assert.match(text, /^arvados_dispatchcloud_event_feed_token\{state="root"\} 1$/m);
    assert.match(text, /^arvados_dispatchcloud_event_feed_token\{state="own"\} 0$/m);
  });

  it('count the times the feed was found connected but deaf', async () => {
    const text = await metricsOf({ state: 'connected', token: 'own', deaf: 2 });
    assert.match(text, /^# TYPE arvados_dispatchcloud_event_feed_deaf_total counter$/m);
    assert.match(text, /^arvados_dispatchcloud_event_feed_deaf_total 2$/m);
  });

  it('say none without a feed', async () => {
    const text = await metricsOf(undefined);
    assert.match(text, /^arvados_dispatchcloud_event_feed_token\{state="none"\} 1$/m);
    assert.match(text, /^arvados_dispatchcloud_event_feed_deaf_total 0$/m);
  });
});
