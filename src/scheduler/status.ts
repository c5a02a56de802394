/**
 * The `scheduling_status` texts the management API shows for each queued
 * or locked container. They are exactly the reference dispatcher's, down to
 * the two spaces after each full stop: operators' scripts match on them.
 * The exceptions are the last three, for containers our own features hold
 * (states the reference does not have, where its "at capacity" would not
 * be true); they keep its "Waiting in queue at position N."
 */

export const STATUS_PREPARING = 'Container is allocated to an instance and preparing to run.';
export const STATUS_WAITING_FOR_PREVIOUS_ATTEMPT = 'Waiting for previous container attempt to exit.';

export function statusPriorityZero(state: string): string {
  return `This container will not be scheduled to run because its priority is 0 and state is ${state}.`;
}

export function statusSupervisorLimit(position: number): string {
  return `Waiting in workflow queue at position ${position}.  Cluster is at capacity and cannot start any new workflows right now.`;
}

export function statusWaitingNewInstance(typeName: string): string {
  return `Waiting for a ${typeName} instance to boot and be ready to accept work.`;
}

/** `typeNames` is every eligible type, cheapest first, joined as the reference does. */
export function statusWaitingInstanceTypes(position: number, typeNames: string[]): string {
  return `Waiting in queue at position ${position}.  Cluster is at capacity for all eligible instance types (${typeNames.join(', ')}) and cannot start a new instance right now.`;
}

export function statusWaitingCloudResources(position: number): string {
  return `Waiting in queue at position ${position}.  Cluster is at cloud account limits and cannot start any new instances right now.`;
}

export function statusWaitingClusterCapacity(position: number): string {
  return `Waiting in queue at position ${position}.  Cluster is at capacity and cannot start any new instances right now.`;
}

/**
 * A Queued container the start breaker does not lock. The reference would
 * have locked it, and the controller cancelled it after its attempts.
 */
export function statusStartsHeld(position: number): string {
  return `Waiting in queue at position ${position}.  Recent attempts to start containers on this cluster have failed, so new containers are on hold until a trial start succeeds.`;
}

/**
 * A Queued container on its last dispatch attempt, not locked after a
 * restart until a container has run: its lock, if starts fail, would end
 * in its cancellation.
 */
export function statusLastAttemptHeld(position: number): string {
  return `Waiting in queue at position ${position}.  This container has one start attempt left, so it is on hold until another container has started since the dispatcher restarted.`;
}

/** A container the spending cap holds: the cluster's burn, or its owner's, is at the level that holds it. */
export function statusSpendingCap(position: number, scope: 'cluster' | 'owner'): string {
  const why = scope === 'owner' ? "This container's owner is at their spending limit, so no new instance can start for it" : 'Cluster is at its spending limit and cannot start any new instances';
  return `Waiting in queue at position ${position}.  ${why} right now.`;
}

/** A container locality keeps for a busy VM that has its image (or some of its inputs), for at most its timeout. */
export function statusWaitingWarmInstance(position: number, has: 'image' | 'inputs'): string {
  const what = has === 'image' ? "this container's image" : "some of this container's inputs";
  return `Waiting in queue at position ${position}.  Waiting for an instance that already has ${what} to become free.`;
}
