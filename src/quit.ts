/**
 * SIGQUIT, answered as the reference's Go runtime answers it: a dump of what
 * the process is doing on stderr, then exit status 2 at once, without the
 * graceful stop SIGTERM gets. `systemctl kill -s QUIT arvados-dispatch-cloud`
 * is how operators get a Go service's state for a bug report, and under the
 * unit's RestartPreventExitStatus=2 the unit then stays stopped, with the
 * dump the last thing in its journal.
 *
 * Node has no goroutine stacks to print; its diagnostic report
 * (`process.report`) is the nearest thing: the JavaScript and native stacks,
 * every libuv handle (sockets, timers, the SSH connections), heap and
 * resource usage. Node's default for SIGQUIT is to die by the signal (status
 * 131, no output), which systemd's Restart=always then undoes.
 *
 * Exiting without stopping leaves every VM and container as it is, as a
 * SIGTERM stop does: the next start adopts them.
 */
import { type Clock, systemClock } from './clock/index.js';
import { type Logger, REDACTED, SecretSet } from './log.js';

/** The exit status after SIGQUIT, as a Go program's. */
export const EXIT_QUIT = 2;

/** How long the report may take to reach stderr (a pipe nobody reads) before the process exits anyway. */
export const QUIT_FLUSH_MS = 3_000;


export interface QuitOptions {
  logger: Logger;
  /** Values scrubbed from the report wherever they appear. */
  secrets?: Iterable<string>;
  /** Where SIGQUIT comes from; default the process. */
  signals?: NodeJS.EventEmitter;
  /** Where the report goes; default process.stderr. */
  stderr?: NodeJS.WritableStream;
  /** Default process.exit. */
  exit?: (code: number) => void;
  /** For the flush deadline; default the system clock. */
  clock?: Clock;
  /** Default Node's process.report.getReport(). */
  getReport?: () => object;
}

/**
 * Answers the first SIGQUIT with one log line saying where the report goes,
 * the report as JSON on stderr, and `exit(EXIT_QUIT)` once it is written (or
 * after QUIT_FLUSH_MS). Returns a function that removes the handler.
 */
export function handleQuitSignal(opts: QuitOptions): () => void {
  const signals = opts.signals ?? process;
  const stderr = opts.stderr ?? process.stderr;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const clock = opts.clock ?? systemClock;
  const secrets = opts.secrets ?? [];
  let quitting = false;
  const onQuit = (): void => {
    if (quitting) return;
    quitting = true;
    opts.logger.warn('SIGQUIT: writing a diagnostic report to stderr, then exiting with status 2 without stopping; VMs and containers are left as they are for the next start to adopt', {
      Signal: 'SIGQUIT',
      Report: 'stderr',
    });
    let text: string;
    try {
      text = diagnosticReport(opts.getReport?.() ?? getNodeReport(), secrets);
    } catch (err) {
      opts.logger.error('SIGQUIT: could not build the diagnostic report', { error: err instanceof Error ? err.message : String(err) });
      text = '';
    }
    // A pipe nobody reads must not keep the process alive.
    clock.setTimer(QUIT_FLUSH_MS, () => exit(EXIT_QUIT));
    // After the turn in which the logger hands its line to the stream, so the
    // line comes first; the write's callback says both have been flushed.
    setImmediate(() => {
      if (text === '') exit(EXIT_QUIT);
      else stderr.write(text, () => exit(EXIT_QUIT));
    });
  };
  signals.on('SIGQUIT', onQuit);
  return () => {
    signals.off('SIGQUIT', onQuit);
  };
}

/** Node's report, without the reverse DNS lookups of every socket's peer it would otherwise make (slow, or stuck, with the network down). */
function getNodeReport(): object {
  // Node >= 20.13 (--report-exclude-network); our @types/node predates it.
  (process.report as NodeJS.ProcessReport & { excludeNetwork?: boolean }).excludeNetwork = true;
  return process.report.getReport();
}

/**
 * The report as JSON text, as `node --report-on-signal` writes it, with the
 * environment's values redacted (it holds cloud credentials as often as
 * not) and every secret scrubbed.
 */
export function diagnosticReport(report: object, secrets: Iterable<string> = []): string {
  // The loggers' scrubber: the same values, the same too-short-to-scrub rule.
  const scrubber = new SecretSet();
  for (const s of secrets) scrubber.add(s);
  return scrubber.scrub(`${JSON.stringify(withoutEnvironment(report), null, 2)}\n`);
}

/**
 * A copy of a report with the values of every `environmentVariables` map
 * redacted, at any depth: each worker thread's report (`workers[]`, which
 * may have workers of its own) carries its own copy of the environment. A
 * module loader hook (`NODE_OPTIONS=--import ...`) runs in such a thread.
 */
function withoutEnvironment(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEnvironment);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = key === 'environmentVariables' && v !== null && typeof v === 'object' ? Object.fromEntries(Object.keys(v).map((name) => [name, REDACTED])) : withoutEnvironment(v);
  }
  return out;
}
