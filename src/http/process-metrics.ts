/**
 * Node's own process metrics (`process_*`, `nodejs_*`), on one registry for
 * the whole process. prom-client collects them with process-wide hooks (an
 * event-loop delay monitor and a GC observer) that cannot be stopped: made
 * per dispatcher, each set would stay alive after its dispatcher stopped,
 * with the dispatcher's registry and, through its collectors, the
 * dispatcher itself. The suggester runs a simulated dispatcher for every
 * suggestion, so that leaked one whole simulation each time.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

/** The process's registry, made on first use. */
export function processMetrics(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}
