/**
 * `arvados_dispatchcloud_cloud_errors_total{operation,class}`: failed cloud
 * calls by what the dispatcher does about them (`src/cloud/errors.ts`), which
 * the reference's `driver_operations{error="1"}` does not tell apart. A
 * dashboard shows throttling, quota and capacity trouble apart from plain
 * failures with it.
 */
import { Counter, type Registry } from 'prom-client';
import { isCapacityError, isQuotaError, isRateLimitError } from '../cloud/errors.js';
import type { CloudOperation } from '../cloud/wrap.js';

/** The `class` label: an error class of `src/cloud/errors.ts`, or `other`. */
export const CLOUD_ERROR_CLASSES = ['rate_limit', 'quota', 'capacity', 'other'] as const;
export type CloudErrorClass = (typeof CLOUD_ERROR_CLASSES)[number];

/** The class of a failed cloud call's error; rate limits first, as the dispatcher checks them. */
export function cloudErrorClass(err: unknown): CloudErrorClass {
  if (isRateLimitError(err)) return 'rate_limit';
  if (isQuotaError(err)) return 'quota';
  if (isCapacityError(err)) return 'capacity';
  return 'other';
}

/** Registers the counter, every series at zero (a rate() over a series born at its first error misses that error). */
export function cloudErrorCounter(registry: Registry, operations: readonly CloudOperation[]): (op: CloudOperation, err: unknown) => void {
  const counter = new Counter({
    name: 'arvados_dispatchcloud_cloud_errors_total',
    help: 'Failed cloud calls by operation and error class: rate_limit (throttled), quota (account limit), capacity (provider out of the type), other.',
    labelNames: ['operation', 'class'],
    registers: [registry],
  });
  for (const operation of operations) for (const cls of CLOUD_ERROR_CLASSES) counter.inc({ operation, class: cls }, 0);
  return (op, err) => {
    if (err !== undefined) counter.inc({ operation: op, class: cloudErrorClass(err) });
  };
}
