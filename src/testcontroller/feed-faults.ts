/**
 * Faults of the test controller's event feed, for testing a client's
 * recovery: refused upgrades, dropped connections, lost, duplicated,
 * delayed, reordered and garbage messages, and a connection that stays
 * open but goes silent. Every random choice comes from a seeded generator
 * per session, so a seed makes a run repeatable.
 */
import type { Random } from '../../drivers/lame/random.js';
import { eventMessage, type LogEntry } from './events.js';

/** Feed faults; every field is optional and off (or at its default) when absent. */
export interface FeedFaults {
  /** HTTP status answered to every upgrade (e.g. 503): no feed at all. 0 or absent accepts. */
  refuse?: number;
  /** Every open connection is terminated this often (on the controller's clock); 0 or absent never. */
  dropEveryMs?: number;
  /** Probability (0..1) that an event is not sent to a session; the connection is kept. */
  loseRate?: number;
  /** Probability (0..1) that an event is sent twice (the same frame). */
  duplicateRate?: number;
  /** Each event waits this long on the clock before it is sent. */
  delayMs?: number;
  /** Plus a uniform random extra wait up to this long, which reorders events. */
  delayJitterMs?: number;
  /**
   * Events are held in batches of this many and sent shuffled. An
   * incomplete batch is sent at the next heartbeat tick, so no event is held
   * forever. 0 or 1 turns it off.
   */
  reorderWindow?: number;
  /** Probability (0..1) that a garbage frame (see `GARBAGE_KINDS`) is sent before an event. */
  garbageRate?: number;
  /** While true nothing at all is sent (no acks, events or heartbeats): a silently dead connection. */
  stall?: boolean;
  /** How often an idle session gets `{}`; default 60000 (the reference's SendTimeout). */
  heartbeatMs?: number;
  /** Seed of the per-session random choices; default 1. */
  seed?: number;
}

/** FeedFaults with every field present. */
export type ResolvedFeedFaults = Required<FeedFaults>;

export const DEFAULT_FEED_FAULTS: ResolvedFeedFaults = {
  refuse: 0,
  dropEveryMs: 0,
  loseRate: 0,
  duplicateRate: 0,
  delayMs: 0,
  delayJitterMs: 0,
  reorderWindow: 0,
  garbageRate: 0,
  stall: false,
  heartbeatMs: 60_000,
  seed: 1,
};

/**
 * Merges `partial` into `current`: a key present with the value undefined
 * returns that fault to its default. Throws on a value out of range, so a
 * test's typo fails loudly instead of injecting nothing.
 */
export function mergeFeedFaults(current: ResolvedFeedFaults, partial: FeedFaults): ResolvedFeedFaults {
  const next: ResolvedFeedFaults = { ...current };
  for (const key of Object.keys(partial) as Array<keyof FeedFaults>) {
    const v = partial[key];
    (next as Record<string, unknown>)[key] = v === undefined ? DEFAULT_FEED_FAULTS[key] : v;
  }
  for (const key of ['loseRate', 'duplicateRate', 'garbageRate'] as const) {
    if (!(next[key] >= 0 && next[key] <= 1)) throw new Error(`feed fault ${key} must be in 0..1, not ${next[key]}`);
  }
  for (const key of ['dropEveryMs', 'delayMs', 'delayJitterMs', 'reorderWindow'] as const) {
    if (!(next[key] >= 0 && Number.isFinite(next[key]))) throw new Error(`feed fault ${key} must be >= 0, not ${next[key]}`);
  }
  if (!(next.heartbeatMs > 0)) throw new Error(`feed fault heartbeatMs must be > 0, not ${next.heartbeatMs}`);
  if (next.refuse !== 0 && !(Number.isInteger(next.refuse) && next.refuse >= 100 && next.refuse <= 599)) {
    throw new Error(`feed fault refuse must be an HTTP status, not ${next.refuse}`);
  }
  return next;
}

/** The kinds of garbage frame, each a way a careless client could be fooled or crash. */
export const GARBAGE_KINDS = ['not-json', 'array', 'number', 'string', 'string-id', 'no-object-uuid', 'binary'] as const;
export type GarbageKind = (typeof GARBAGE_KINDS)[number];

/** One garbage frame shaped after the event it precedes; a Buffer is sent as a binary frame. */
export function garbageFrame(rng: Random, entry: LogEntry, msgID: number): { kind: GarbageKind; data: string | Buffer } {
  const kind = GARBAGE_KINDS[Math.min(GARBAGE_KINDS.length - 1, Math.floor(rng.next() * GARBAGE_KINDS.length))];
  const event = eventMessage(entry, msgID);
  switch (kind) {
    case 'not-json':
      return { kind, data: `{"msgID":${msgID},"id":${entry.id},` };
    case 'array':
      return { kind, data: JSON.stringify([event]) };
    case 'number':
      return { kind, data: String(entry.id) };
    case 'string':
      return { kind, data: JSON.stringify(entry.objectUuid) };
    case 'string-id':
      return { kind, data: JSON.stringify({ ...event, id: String(entry.id) }) };
    case 'no-object-uuid': {
      const { object_uuid: _dropped, ...rest } = event;
      return { kind, data: JSON.stringify(rest) };
    }
    case 'binary':
      return { kind, data: Buffer.from(JSON.stringify(event)) };
  }
}
