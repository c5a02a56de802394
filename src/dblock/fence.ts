/**
 * The fence: what every action of the dispatcher consults, synchronously,
 * just before it acts. An action is anything another dispatcher could
 * collide with: locking, unlocking, cancelling or updating a container at
 * the controller; creating, destroying or tagging a VM; starting or killing
 * crunch-run, or installing it on a VM. Reads (queue polls, cloud lists,
 * probes) are not fenced.
 *
 * The choke points (the controller client, the cloud wrapper, the executor
 * wrapper) call `check`; it throws `DispatchLockLostError` when this
 * dispatcher may not act, and the action is then not taken. Stopping loops
 * is asynchronous; the fence is not: once it refuses, nothing gets through,
 * whatever is still in flight in the dispatcher.
 */

/** What an action is, for the log line that records it. */
export interface FencedAction {
  /** `lock`, `unlock`, `update`, `create`, `destroy`, `tag`, `start`, `kill`, `install`. */
  Action: string;
  /** More to tell who acted on what: ContainerUUID, Instance, InstanceType, ... */
  [field: string]: unknown;
}

export interface Fence {
  /** Returns when the action may be taken now (and records it); throws DispatchLockLostError otherwise. */
  check(action: FencedAction): void;
}

/** The fence refused: this dispatcher does not hold the dispatch lock (now). */
export class DispatchLockLostError extends Error {
  override readonly name = 'DispatchLockLostError';
}

export function isDispatchLockLostError(err: unknown): err is DispatchLockLostError {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DispatchLockLostError) return true;
  }
  return false;
}
