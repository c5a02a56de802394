/**
 * The event feed's wire format as plain data: the address, the subscribe
 * request, and the classification of every kind of message, good or bad.
 */
import assert from 'node:assert/strict';
import { displayURL, EXCERPT_CHARS, eventFeedURL, parseFeedMessage, subscribeMessage } from '../../src/arvados/event-message.js';
import { containerEvent } from './feed-server.js';

const CTR = 'zzzzz-dz642-queuedcontainer';
const parse = (v: unknown): ReturnType<typeof parseFeedMessage> => parseFeedMessage(Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)), false);

describe('event feed messages', () => {
  describe('eventFeedURL', () => {
    it('keeps ws and wss, maps http and https, and defaults the path to /websocket', () => {
      assert.equal(eventFeedURL('wss://ws.zzzzz.example.com/websocket'), 'wss://ws.zzzzz.example.com/websocket');
      assert.equal(eventFeedURL('ws://10.0.0.1:8005/websocket'), 'ws://10.0.0.1:8005/websocket');
      assert.equal(eventFeedURL('https://ws.zzzzz.example.com'), 'wss://ws.zzzzz.example.com/websocket');
      assert.equal(eventFeedURL('https://ws.zzzzz.example.com/'), 'wss://ws.zzzzz.example.com/websocket');
      assert.equal(eventFeedURL('http://ws.zzzzz.example.com:8005/'), 'ws://ws.zzzzz.example.com:8005/websocket');
      assert.equal(eventFeedURL('wss://proxy.example.com/arvados-ws/websocket'), 'wss://proxy.example.com/arvados-ws/websocket');
      assert.equal(eventFeedURL('wss://ws.zzzzz.example.com/#x'), 'wss://ws.zzzzz.example.com/websocket');
    });

    it('refuses what is not a ws or http URL, saying which key', () => {
      assert.throws(() => eventFeedURL(''), /Services\.Websocket\.ExternalURL: "" is not a URL/);
      assert.throws(() => eventFeedURL('ws.example.com'), /is not a URL/);
      assert.throws(() => eventFeedURL('ftp://ws.example.com/'), /scheme ftp: is not one of ws:, wss:, http:, https:/);
    });

    it('shows an address without credentials or query', () => {
      assert.equal(displayURL('wss://u:p@ws.example.com/websocket?api_token=secret'), 'wss://ws.example.com/websocket');
    });
  });

  it('subscribes to creates and updates, resuming after last_log_id when given', () => {
    const filters = [['event_type', 'in', ['create', 'update']]];
    assert.deepEqual(JSON.parse(subscribeMessage()), { method: 'subscribe', filters });
    assert.deepEqual(JSON.parse(subscribeMessage(42)), { method: 'subscribe', filters, last_log_id: 42 });
  });

  it('reads status answers and heartbeats', () => {
    assert.deepEqual(parse({ status: 200 }), { kind: 'status', status: 200 });
    assert.deepEqual(parse({ status: 400 }), { kind: 'status', status: 400 });
    assert.deepEqual(parse({}), { kind: 'heartbeat' });
  });

  it('reads a container update with its states and time', () => {
    assert.deepEqual(parse(containerEvent(CTR, { id: 7, from: 'Queued', to: 'Locked' })), {
      kind: 'event',
      logId: 7,
      container: { logId: 7, uuid: CTR, eventType: 'update', oldState: 'Queued', newState: 'Locked', eventAt: '2026-12-04T21:00:00.000000000Z' },
    });
  });

  it('reads a container create, which has no old state', () => {
    const m = parse(containerEvent(CTR, { id: 8, type: 'create' }));
    assert.deepEqual(m, { kind: 'event', logId: 8, container: { logId: 8, uuid: CTR, eventType: 'create', newState: 'Queued', eventAt: '2026-12-04T21:00:00.000000000Z' } });
  });

  it('takes an event without object_kind as a container event when its uuid is a container uuid', () => {
    const m = parse(containerEvent(CTR, { id: 9, kind: null }));
    assert.equal(m.kind === 'event' && m.container?.uuid, CTR);
  });

  it('reads events about other objects without a container', () => {
    assert.deepEqual(parse(containerEvent('zzzzz-xvhdp-000000000000001', { id: 10, kind: 'arvados#containerRequest' })), { kind: 'event', logId: 10 });
    assert.deepEqual(parse(containerEvent('zzzzz-4zz18-000000000000001', { id: 11, kind: null })), { kind: 'event', logId: 11 });
  });

  it('takes odd states only from container events', () => {
    const other = containerEvent('zzzzz-j7d0g-000000000000001', { id: 12, kind: 'arvados#group' });
    other.properties = { new_attributes: { state: 3 } };
    assert.deepEqual(parse(other), { kind: 'event', logId: 12 });
    const nullState = containerEvent(CTR, { id: 13 });
    nullState.properties = { old_attributes: null, new_attributes: { state: null } };
    assert.deepEqual(parse(nullState), { kind: 'event', logId: 13, container: { logId: 13, uuid: CTR, eventType: 'update', eventAt: '2026-12-04T21:00:00.000000000Z' } });
  });

  describe('garbage', () => {
    const base = (): Record<string, unknown> => containerEvent(CTR, { id: 20 });
    const cases: Array<[string, unknown, RegExp]> = [
      ['not JSON', 'not json {', /not JSON/],
      ['an array', [1, 2], /not a JSON object/],
      ['a string', '"hello"', /not a JSON object/],
      ['null', 'null', /not a JSON object/],
      ['a non-numeric status', { status: 'ok' }, /status is not a number/],
      ['an id of zero', { ...base(), id: 0 }, /id is not a positive integer/],
      ['a negative id', { ...base(), id: -3 }, /id is not a positive integer/],
      ['a fractional id', { ...base(), id: 1.5 }, /id is not a positive integer/],
      ['an id beyond safe integers', '{"id": 9007199254740993, "object_uuid": "x", "event_type": "update"}', /id is not a positive integer/],
      ['a string id', { ...base(), id: '20' }, /id is not a positive integer/],
      ['no id', { object_uuid: CTR, event_type: 'update' }, /id is not a positive integer/],
      ['a non-string object_uuid', { ...base(), object_uuid: 5 }, /object_uuid is not a string/],
      ['a non-string event_type', { ...base(), event_type: ['update'] }, /event_type is not a string/],
      ['a non-string object_kind', { ...base(), object_kind: 1 }, /object_kind is not a string/],
      ['a container kind on another uuid', { ...base(), object_uuid: 'zzzzz-4zz18-000000000000001' }, /without a container uuid/],
      ['a numeric new state', { ...base(), properties: { new_attributes: { state: 2 } } }, /state is not a string/],
      ['an array of old attributes', { ...base(), properties: { old_attributes: ['Queued'] } }, /state is not a string/],
      ['string properties', { ...base(), properties: 'x' }, /state is not a string/],
    ];
    for (const [what, value, reason] of cases) {
      it(`is ${what}`, () => {
        const m = parse(value);
        assert.equal(m.kind, 'garbage');
        assert.match(m.kind === 'garbage' ? m.reason : '', reason);
      });
    }

    it('is a binary frame, quoted by its size only', () => {
      assert.deepEqual(parseFeedMessage(Buffer.from('{"status":200}'), true), { kind: 'garbage', reason: 'binary frame', excerpt: '<14 bytes>' });
    });

    it('is quoted in at most EXCERPT_CHARS characters', () => {
      const m = parse(`[${'1,'.repeat(1000)}1]`);
      assert.equal(m.kind === 'garbage' && m.excerpt.length, EXCERPT_CHARS);
    });
  });

  it('reads a message with an id as an event even when it carries a status too: only a bare status answers a subscribe', () => {
    const m = parse({ ...containerEvent(CTR, { id: 9, from: 'Queued', to: 'Locked' }), status: 200 });
    assert.equal(m.kind, 'event');
    assert.equal(m.kind === 'event' ? m.container?.newState : undefined, 'Locked');
  });

  it('reads a frame that ws hands over in fragments (a Buffer[]) or as an ArrayBuffer as one message', () => {
    const text = JSON.stringify(containerEvent(CTR, { id: 21, from: 'Queued', to: 'Locked' }));
    const cut = Math.floor(text.length / 2);
    const fragments = parseFeedMessage([Buffer.from(text.slice(0, cut)), Buffer.from(text.slice(cut))], false);
    assert.equal(fragments.kind, 'event');
    assert.equal(fragments.kind === 'event' ? fragments.container?.newState : undefined, 'Locked');
    const bytes = Buffer.from(text);
    const whole = parseFeedMessage(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), false);
    assert.deepEqual(whole, fragments);
  });
});
