/**
 * Set, with the reason, on the 404 a process that is not dispatching (a
 * standby waiting for the dispatch lock) answers a container's status with
 * (api.ts), so that the management CLI asks the next InternalURL as after a
 * 503 (admin/client.ts).
 */
export const NOT_DISPATCHING_HEADER = 'X-Arvados-Dispatch-Not-Dispatching';
