/**
 * The `scheduling_status` texts the management API shows for each queued
 * or locked container. They are exactly the reference dispatcher's, down to
 * the two spaces after each full stop: operators' scripts match on them.
 * The one exception is `statusStartsHeld`, for a state the reference does
 * not have; it keeps the reference's "Waiting in queue at position N."
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
 * have locked it, and the controller cancelled it after its attempts, so no
 * reference text fits; "at capacity" would send its owner the wrong way.
 */
export function statusStartsHeld(position: number): string {
  return `Waiting in queue at position ${position}.  Recent attempts to start containers on this cluster have failed, so new containers are on hold until a trial start succeeds.`;
}
