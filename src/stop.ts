/**
 * How the daemon ends after SIGTERM or SIGINT: promptly, whatever holds on.
 *
 * Stopping (the dispatcher's loops, SSH connections, the management server)
 * normally takes milliseconds, and then nothing is left to keep Node's event
 * loop open, so the process exits by itself. Two bounds make that a promise
 * an operator (or systemd's stop timeout) can rely on in every
 * configuration, including ones whose libraries we do not control (a cloud
 * SDK's keep-alive sockets, a database client):
 * - stopping may take at most STOP_DEADLINE_MS (a controller call that
 *   hangs must not hold the exit); after that the daemon exits anyway;
 * - once stopped, the process may linger at most EXIT_GRACE_MS; if something
 *   still holds the event loop open then, the daemon says what (Node's
 *   active resource names) and exits. That warning is a bug to fix, and the
 *   tests assert it never appears with the drivers shipped here.
 * Together they end the process well within 10 s of the signal.
 */
import { type Clock, holdProcessOpen } from './clock/index.js';
import type { Logger } from './log.js';

/** How long stopping may take before the daemon gives up waiting. */
export const STOP_DEADLINE_MS = 6_000;

/** How long the process may stay alive after stopping before it is ended. */
export const EXIT_GRACE_MS = 2_000;

/** The warning logged when something held the process open after stopping. */
export const LINGER_WARNING = 'still running after stop: exiting';

/**
 * Runs `stop`, keeping the process alive meanwhile (an await on nothing but
 * unref'd timers would otherwise end it with status 13), for at most
 * `deadlineMs`. Resolves true if it finished in time, false (with a warning)
 * if not; a rejection is logged and counts as finished.
 */
export async function stopWithin(stop: () => Promise<void>, opts: { clock: Clock; logger: Logger; deadlineMs?: number }): Promise<boolean> {
  const deadlineMs = opts.deadlineMs ?? STOP_DEADLINE_MS;
  const release = holdProcessOpen();
  let timer: { cancel(): void } | undefined;
  try {
    const done = stop().then(
      () => true,
      (err: unknown) => {
        opts.logger.error('error while stopping', { error: err });
        return true;
      },
    );
    const late = new Promise<false>((resolve) => {
      timer = opts.clock.setTimer(deadlineMs, () => resolve(false));
    });
    const finished = await Promise.race([done, late]);
    if (!finished) opts.logger.warn('stopping is taking too long: exiting without waiting for it', { DeadlineMs: deadlineMs });
    return finished;
  } finally {
    timer?.cancel();
    release();
  }
}

/**
 * Arms the last resort: if the process is still alive `graceMs` from now,
 * logs LINGER_WARNING with what keeps it open and calls `exit(code)`. The
 * timer itself does not keep the process alive (the system clock's timers
 * are unref'd), so in the normal case it never fires.
 */
export function exitIfStillRunning(
  code: number,
  opts: { clock: Clock; logger: Logger; graceMs?: number; exit?: (code: number) => void },
): void {
  const exit = opts.exit ?? ((c: number) => process.exit(c));
  opts.clock.setTimer(opts.graceMs ?? EXIT_GRACE_MS, () => {
    opts.logger.warn(LINGER_WARNING, { ActiveResources: process.getActiveResourcesInfo() });
    exit(code);
  });
}
