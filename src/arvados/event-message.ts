/**
 * The wire format of Arvados's event feed (arvados-ws, protocol v0): where
 * it is served, what the dispatcher sends to subscribe, and a defensive
 * parser for what comes back. The connection itself lives in
 * `event-feed.ts`; this file does no I/O, so every odd message the server
 * (or something in front of it) could send is testable as plain data.
 */
import type { RawData } from 'ws';
import { isContainerUuid } from './types.js';

/**
 * A change to one container, as the feed announces it. It is a hint only:
 * the attributes an event carries are a subset (no priority), so whoever
 * receives it refreshes the container from the controller.
 */
export interface ContainerEvent {
  /** The server's log id: increasing, and what `last_log_id` resumes from. */
  logId: number;
  /** The container's uuid. */
  uuid: string;
  /** `create`, `update`, or another event type the server chose to send. */
  eventType: string;
  /** The container's state before the change; absent on create. */
  oldState?: string;
  /** The container's state after the change. */
  newState?: string;
  /** When the change happened, RFC 3339, as the server wrote it. */
  eventAt?: string;
}

/** One message from the server, classified. */
export type FeedMessage =
  /** The answer to a subscribe: 200 accepted, anything else refused. */
  | { kind: 'status'; status: number }
  /** `{}`: the server's idle heartbeat. */
  | { kind: 'heartbeat' }
  /** A well-formed event; `container` is set when it is about a container. */
  | { kind: 'event'; logId: number; container?: ContainerEvent }
  /** Anything else; `excerpt` is short enough to log. */
  | { kind: 'garbage'; reason: string; excerpt: string };

/** How much of a bad message a warning quotes. */
export const EXCERPT_CHARS = 200;

/** The only path on which arvados-ws serves protocol v0. */
const V0_PATH = '/websocket';

const SCHEMES: Readonly<Record<string, string>> = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' };

/**
 * The feed's address from `Services.Websocket.ExternalURL`: http(s) becomes
 * ws(s), and an empty path becomes `/websocket`, because a cluster's config
 * often gives only the host while the server answers v0 on that path alone.
 * The token is not part of it (it is added when connecting, so that this
 * address can be logged and shown). Throws on anything that is not a
 * ws/wss/http/https URL.
 */
export function eventFeedURL(externalURL: string): string {
  let url: URL;
  try {
    url = new URL(externalURL);
  } catch {
    throw new Error(`Services.Websocket.ExternalURL: ${JSON.stringify(externalURL)} is not a URL`);
  }
  const scheme = SCHEMES[url.protocol];
  if (!scheme) {
    throw new Error(`Services.Websocket.ExternalURL: scheme ${url.protocol} is not one of ws:, wss:, http:, https:`);
  }
  url.protocol = scheme;
  // A fragment means nothing to a websocket server, and ws refuses URLs that have one.
  url.hash = '';
  if (url.pathname === '' || url.pathname === '/') url.pathname = V0_PATH;
  return url.toString();
}

/** The address without credentials or query, for logs and the status page. */
export function displayURL(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * The subscribe request: creates and updates of every object the token may
 * read (the consumer picks out containers, since v0 filters cannot say
 * "kind is container" for events that lack it). `lastLogId`, when a
 * previous connection saw events, asks the server to replay what was
 * logged since, so a reconnect loses nothing the server still remembers.
 */
export function subscribeMessage(lastLogId?: number): string {
  const msg: Record<string, unknown> = { method: 'subscribe', filters: [['event_type', 'in', ['create', 'update']]] };
  if (lastLogId !== undefined) msg.last_log_id = lastLogId;
  return JSON.stringify(msg);
}

const CONTAINER_KIND = 'arvados#container';

/**
 * Classifies one frame (as `ws` hands it over, or as text). Never throws:
 * the feed is a hint, so a message it cannot use is reported as garbage
 * and the connection carries on.
 */
export function parseFeedMessage(frame: RawData | string, isBinary: boolean): FeedMessage {
  const data = typeof frame === 'string' ? frame : toBuffer(frame);
  if (isBinary) return garbage('binary frame', `<${data.length} bytes>`);
  const text = typeof data === 'string' ? data : data.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return garbage('not JSON', text);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return garbage('not a JSON object', text);
  const msg = value as Record<string, unknown>;
  if ('status' in msg && !('id' in msg)) {
    return typeof msg.status === 'number' ? { kind: 'status', status: msg.status } : garbage('status is not a number', text);
  }
  if (Object.keys(msg).length === 0) return { kind: 'heartbeat' };
  return parseEvent(msg, text);
}

function parseEvent(msg: Record<string, unknown>, text: string): FeedMessage {
  const { id, object_uuid: objectUuid, object_kind: kind, event_type: eventType, event_at: eventAt } = msg;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) return garbage('id is not a positive integer', text);
  if (typeof objectUuid !== 'string') return garbage('object_uuid is not a string', text);
  if (typeof eventType !== 'string') return garbage('event_type is not a string', text);
  if (kind !== undefined && kind !== null && typeof kind !== 'string') return garbage('object_kind is not a string', text);
  // An event without a kind is still a container's when its uuid says so
  // (the kind is derived from the uuid on the server, and older logs lack it).
  const aboutContainer = kind === CONTAINER_KIND || (!kind && isContainerUuid(objectUuid));
  if (!aboutContainer) return { kind: 'event', logId: id };
  if (!isContainerUuid(objectUuid)) return garbage('container event without a container uuid', text);
  const oldState = stateOf(msg.properties, 'old_attributes');
  const newState = stateOf(msg.properties, 'new_attributes');
  if (oldState === INVALID || newState === INVALID) return garbage('a state is not a string', text);
  const container: ContainerEvent = { logId: id, uuid: objectUuid, eventType };
  if (oldState !== undefined) container.oldState = oldState;
  if (newState !== undefined) container.newState = newState;
  if (typeof eventAt === 'string') container.eventAt = eventAt;
  return { kind: 'event', logId: id, container };
}

const INVALID = Symbol('invalid');

/**
 * `properties.<which>.state`: undefined when any level is missing or null
 * (a create has no old attributes), INVALID when a level has the wrong type.
 */
function stateOf(properties: unknown, which: string): string | undefined | typeof INVALID {
  if (properties === undefined || properties === null) return undefined;
  if (typeof properties !== 'object' || Array.isArray(properties)) return INVALID;
  const attrs = (properties as Record<string, unknown>)[which];
  if (attrs === undefined || attrs === null) return undefined;
  if (typeof attrs !== 'object' || Array.isArray(attrs)) return INVALID;
  const state = (attrs as Record<string, unknown>).state;
  if (state === undefined || state === null) return undefined;
  return typeof state === 'string' ? state : INVALID;
}

function garbage(reason: string, text: string): FeedMessage {
  const excerpt = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS - 3)}...` : text;
  return { kind: 'garbage', reason, excerpt };
}

/** A frame's bytes in one Buffer, whichever of its forms `ws` delivered. */
function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
