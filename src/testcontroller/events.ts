/**
 * The test controller's log table: one entry per container create and
 * update, as Arvados writes a row to its `logs` table for every change of a
 * record, which its event feed (`feed.ts`) then sends to subscribers. Only
 * what the feed needs is kept, and only for a while: the feed replays at
 * most the last ten minutes, so older entries are dropped, and a bound on
 * the count keeps a day-long simulation from growing it without end.
 */
import type { Clock } from '../clock/index.js';
import { CONTAINER_KIND, type ControllerContainer } from './record.js';

/** The record attributes an event carries in old/new_attributes (the reference server's list; others are left out). */
export const EVENT_ATTRIBUTES = [
  'is_trashed',
  'name',
  'owner_uuid',
  'portable_data_hash',
  'requesting_container_uuid',
  'state',
] as const;

/** How far back a subscription's `last_log_id` replay reaches. */
export const REPLAY_WINDOW_MS = 10 * 60_000;

export type EventType = 'create' | 'update';

/** One row of the log table. */
export interface LogEntry {
  /** Global and increasing from 1. */
  id: number;
  /** `${clusterId}-57u5n-` and the id on 15 digits. */
  uuid: string;
  objectUuid: string;
  objectOwnerUuid: string;
  eventType: EventType;
  /** Epoch ms on the controller's clock: both the log's created_at and its event_at. */
  at: number;
  properties: { old_attributes?: Record<string, unknown>; new_attributes: Record<string, unknown> };
}

/** One event as the feed sends it (a v0 event message). */
export interface EventMessage {
  msgID: number;
  id: number;
  uuid: string;
  object_uuid: string;
  object_owner_uuid: string;
  object_kind: string;
  event_type: EventType;
  event_at: string;
  properties: { old_attributes?: Record<string, unknown>; new_attributes: Record<string, unknown> };
}

export type LogListener = (entry: LogEntry) => void;

export interface EventLogOptions {
  clusterId: string;
  clock: Clock;
  /** Entries kept at most, newest first; default 10000. */
  maxEntries?: number;
}

/**
 * Formats epoch ms as Go's RFC3339Nano does when it marshals a time to
 * JSON: the fraction without trailing zeros, and none at all on a whole
 * second. Clients must cope with both shapes, so the feed sends them.
 */
export function goTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d*?)0*Z$/, (_m, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

function eventAttributes(c: ControllerContainer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const record = c as unknown as Record<string, unknown>;
  for (const k of EVENT_ATTRIBUTES) if (record[k] !== undefined) out[k] = record[k];
  return out;
}

export class EventLog {
  private entries: LogEntry[] = [];
  /** Index of the oldest live entry in `entries`; the array is compacted when half of it is dead. */
  private start = 0;
  private lastId = 0;
  private readonly maxEntries: number;
  private readonly listeners = new Set<LogListener>();

  constructor(private readonly opts: EventLogOptions) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
  }

  /** Logs a container's creation. */
  create(c: ControllerContainer): LogEntry {
    return this.append(c, 'create', { new_attributes: eventAttributes(c) });
  }

  /** Logs a change (the server does not call it for a change of priority alone, which Arvados makes without a log row). */
  update(c: ControllerContainer, prev: ControllerContainer): LogEntry {
    return this.append(c, 'update', { old_attributes: eventAttributes(prev), new_attributes: eventAttributes(c) });
  }

  /** Calls `fn` with every new entry; returns the unsubscribe function. */
  onEntry(fn: LogListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  /** Entries with id > `afterId` created within the replay window, oldest first. */
  since(afterId: number): LogEntry[] {
    this.prune();
    const out: LogEntry[] = [];
    for (let i = this.start; i < this.entries.length; i++) {
      if (this.entries[i].id > afterId) out.push(this.entries[i]);
    }
    return out;
  }

  /** Entries kept now (for tests of the bounds). */
  get size(): number {
    this.prune();
    return this.entries.length - this.start;
  }

  /** The id the next entry will get, less one. */
  get latestId(): number {
    return this.lastId;
  }

  private append(c: ControllerContainer, eventType: EventType, properties: LogEntry['properties']): LogEntry {
    const id = ++this.lastId;
    const entry: LogEntry = {
      id,
      uuid: `${this.opts.clusterId}-57u5n-${String(id).padStart(15, '0')}`,
      objectUuid: c.uuid,
      objectOwnerUuid: c.owner_uuid,
      eventType,
      at: this.opts.clock.now(),
      properties,
    };
    this.entries.push(entry);
    this.prune();
    for (const fn of [...this.listeners]) fn(entry);
    return entry;
  }

  private prune(): void {
    const oldest = this.opts.clock.now() - REPLAY_WINDOW_MS;
    while (this.start < this.entries.length && this.entries[this.start].at <= oldest) this.start++;
    if (this.entries.length - this.start > this.maxEntries) this.start = this.entries.length - this.maxEntries;
    if (this.start > 1024 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
  }
}

/** The wire form of an entry for one session, which numbers its messages. */
export function eventMessage(entry: LogEntry, msgID: number): EventMessage {
  return {
    msgID,
    id: entry.id,
    uuid: entry.uuid,
    object_uuid: entry.objectUuid,
    object_owner_uuid: entry.objectOwnerUuid,
    object_kind: CONTAINER_KIND,
    event_type: entry.eventType,
    event_at: goTime(entry.at),
    properties: entry.properties,
  };
}
