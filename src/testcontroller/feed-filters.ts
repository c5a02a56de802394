/**
 * What a v0 feed client may send, and which events its subscriptions
 * match. The reference server decodes each message into a fixed shape and
 * answers 400 when that fails (not JSON, not an object, a field of the
 * wrong type); of the filters it decodes it honours only two kinds,
 * `["event_type","in",[...]]` and `["created_at", op, time]`, and ignores
 * the rest without complaint.
 */
import { isMap } from '../config/fields.js';
import type { LogEntry } from './events.js';

/** A decoded client message; `filters` normalised as the reference holds them (each exactly three items). */
export interface ClientMessage {
  method: string;
  filters: unknown[][] | null;
  lastLogId: number;
}

export type EntryMatcher = (entry: LogEntry) => boolean;

/** A subscription: the filters as sent (normalised, for unsubscribe's comparison) and what they test. */
export interface Subscription {
  key: string;
  matchers: EntryMatcher[];
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Decodes a frame from a client, or returns undefined where the reference's decoding fails. */
export function parseClientMessage(text: string): ClientMessage | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
  // JSON null decodes into the zero message, whose empty method is then unknown.
  if (raw === null) return { method: '', filters: null, lastLogId: 0 };
  if (!isMap(raw)) return undefined;
  const method = raw.method ?? '';
  if (typeof method !== 'string') return undefined;
  const lastLogId = raw.last_log_id ?? 0;
  if (typeof lastLogId !== 'number' || !Number.isSafeInteger(lastLogId)) return undefined;
  const filters = raw.filters ?? null;
  if (filters !== null && !Array.isArray(filters)) return undefined;
  let normalised: unknown[][] | null = null;
  if (filters !== null) {
    normalised = [];
    for (const f of filters as unknown[]) {
      if (f !== null && !Array.isArray(f)) return undefined;
      // A Go [3]interface{} drops extra items and leaves missing ones nil.
      const items = (f ?? []) as unknown[];
      normalised.push([items[0] ?? null, items[1] ?? null, items[2] ?? null]);
    }
  }
  return { method, filters: normalised, lastLogId };
}

/** The matcher of one filter, or undefined for a filter the reference ignores. */
function matcherOf(filter: unknown[]): EntryMatcher | undefined {
  const [col, op, operand] = filter;
  if (col === 'event_type') {
    if (op !== 'in' || !Array.isArray(operand)) return undefined;
    const types = new Set(operand.filter((s): s is string => typeof s === 'string'));
    return (e) => types.has(e.eventType);
  }
  if (col === 'created_at') {
    if (typeof op !== 'string' || typeof operand !== 'string' || !RFC3339.test(operand)) return undefined;
    // Millisecond precision: the controller's clock has no finer grain.
    const t = Date.parse(operand);
    if (Number.isNaN(t)) return undefined;
    switch (op) {
      case '>=':
        return (e) => e.at >= t;
      case '<=':
        return (e) => e.at <= t;
      case '>':
        return (e) => e.at > t;
      case '<':
        return (e) => e.at < t;
      case '=':
        return (e) => e.at === t;
    }
  }
  return undefined;
}

export function subscriptionOf(msg: ClientMessage): Subscription {
  const matchers: EntryMatcher[] = [];
  for (const f of msg.filters ?? []) {
    const m = matcherOf(f);
    if (m) matchers.push(m);
  }
  return { key: JSON.stringify(msg.filters), matchers };
}

/** True when every honoured filter of the subscription holds (so a subscription without any matches everything). */
export function matches(sub: Subscription, entry: LogEntry): boolean {
  return sub.matchers.every((m) => m(entry));
}
