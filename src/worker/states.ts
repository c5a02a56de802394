/**
 * The words the worker pool and the scheduler share about a worker: its
 * lifecycle state and its idle behaviour. They live here, in a module with
 * no dependencies, so the pool can use them at run time without importing
 * the scheduler, and the scheduler can name them (through
 * `src/scheduler/interfaces.ts`) without importing the pool.
 * `states.md` beside this file has the transitions.
 */

/** A worker's lifecycle states, in the order reports list them. */
export const WORKER_STATES = ['unknown', 'booting', 'idle', 'running', 'shutdown'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** What the scheduler may do with an idle worker; kept in the instance's IdleBehavior tag. */
export const IDLE_BEHAVIORS = ['run', 'hold', 'drain'] as const;
export type IdleBehavior = (typeof IDLE_BEHAVIORS)[number];
