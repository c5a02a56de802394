/**
 * Spot-price order: a new instance is of the eligible type that costs least
 * now, by the driver's spot quotes within each type's configured Price; with
 * no quote, the reference's order (cheapest configured first).
 */
import assert from 'node:assert/strict';
import type { InstanceType } from '../../src/config/types.js';
import { spotPriceOrder } from '../../src/cost/price.js';
import { harness, testCluster, uuid } from './harness.js';

// Preemptible variants at half price; containers may use types up to twice the cheapest.
const cluster = () => testCluster({ containers: { MaximumPriceFactor: 2, PreemptiblePriceFactor: 0.5 }, types: [2, 3, 4] });

async function createdFor(quotes: Record<string, number> | undefined): Promise<string[]> {
  const h = harness(cluster());
  if (quotes) Object.assign(h.pool, { spotPrice: (t: InstanceType) => quotes[t.Name] });
  h.queue.add({ uuid: uuid(1), priority: 1, vcpus: 2, ram: 2, state: 'Locked' });
  h.sch.runQueue();
  await h.clock.advance(0);
  return h.pool.creates;
}

describe('scheduler: spot-price order', () => {
  it('without quotes, creates the cheapest configured type, as the reference', async () => {
    assert.deepEqual(await createdFor(undefined), ['type2.preemptible']);
    assert.deepEqual(await createdFor({}), ['type2.preemptible']);
  });

  it('creates the type whose current spot price is lowest', async () => {
    // type2.preemptible is configured at 0.123, type3.preemptible at 0.1845.
    assert.deepEqual(await createdFor({ 'type2.preemptible': 0.1, 'type3.preemptible': 0.06 }), ['type3.preemptible']);
  });

  it('keeps the configured Price as the cap: a quote above it moves nothing ahead', async () => {
    assert.deepEqual(await createdFor({ 'type2.preemptible': 0.1, 'type3.preemptible': 0.2 }), ['type2.preemptible']);
    // Over its cap, type2.preemptible counts at its configured 0.123, behind a quote of 0.11 within type4.preemptible's 0.246.
    assert.deepEqual(await createdFor({ 'type2.preemptible': 0.5, 'type4.preemptible': 0.11 }), ['type4.preemptible']);
  });

  it('quotes each type once a pass and orders each list once', () => {
    const c = cluster();
    const types = ['type2.preemptible', 'type3.preemptible', 'type2'].map((n) => c.InstanceTypes[n]!);
    const asked: string[] = [];
    const order = spotPriceOrder({
      spotPrice: (t) => {
        asked.push(t.Name);
        return t.Name === 'type3.preemptible' ? 0.01 : undefined;
      },
    });
    const first = order(types);
    assert.deepEqual(first.map((t) => t.Name), ['type3.preemptible', 'type2.preemptible', 'type2']);
    assert.equal(order(types), first);
    assert.deepEqual(order([types[1]!, types[0]!]).map((t) => t.Name), ['type3.preemptible', 'type2.preemptible']);
    assert.deepEqual(asked, ['type2.preemptible', 'type3.preemptible'], 'on-demand types are not quoted; each preemptible one once');
  });

  it('hands lists back untouched when the pool quotes no spot prices', () => {
    const types = [cluster().InstanceTypes['type2.preemptible']!];
    assert.equal(spotPriceOrder({})(types), types);
  });
});
