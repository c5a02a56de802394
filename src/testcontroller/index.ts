/**
 * An in-process Arvados controller for tests, the demo and the simulator:
 * the controller calls of ARVADOS.md section 1 over real HTTP, enforcing
 * Arvados's container rules (see `store.ts` for the state table), or in-process
 * with no socket (`inProcessTransport()`, for the simulator).
 *
 * ```ts
 * const ctl = new TestController({ rootToken: 'secret-root-token' });
 * await ctl.start();
 * const c = ctl.addContainer({ priority: 5 });
 * // ... point the dispatcher at ctl.url ...
 * assert.equal(ctl.get(c.uuid)?.state, 'Complete');
 * await ctl.stop();
 * ```
 */
export {
  TestController,
  type TestControllerOptions,
  type RequestInfo,
  type HookRequest,
  type HookResponse,
  type RequestHook,
  type RequestLogEntry,
} from './server.js';
export { type ControllerContainerRequest, type ContainerRequestSeed, CONTAINER_REQUEST_KIND } from './container-requests.js';
export { type ControllerContainer, type HistoryEntry, formatTime } from './record.js';
export { type ContainerSeed, type ChangeListener, DEFAULT_IMAGE, maxDispatchAttemptsError } from './store.js';
export { DEFAULT_LIMIT, MAX_LIMIT, FILTER_OPERATORS, type FilterOperator } from './query.js';
export { ApiError } from './http.js';
export { type OutageSchedule, type RequestCounts, callerOf } from './faults.js';
export { EventFeed, type FeedConnection } from './feed.js';
export { type FeedFaults, type ResolvedFeedFaults, GARBAGE_KINDS, type GarbageKind } from './feed-faults.js';
export { type FeedCounts, type FeedRequest } from './feed-session.js';
export { EventLog, type LogEntry, type EventMessage, type EventType, EVENT_ATTRIBUTES, REPLAY_WINDOW_MS, goTime } from './events.js';
