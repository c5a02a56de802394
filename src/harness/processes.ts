/**
 * Child processes for whole-daemon runs (the end-to-end tests under
 * `test/e2e/` and the benchmarks under `bench/`): the daemon or the lame
 * cloud as `node scripts/from-sources.mjs ARGS`, output appended to a
 * log file whose JSON records and tail can be read back, and waiting on
 * the system clock for what they do.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../clock/index.js';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

// ------------------------------------------------------------ waiting

export function sleep(ms: number): Promise<void> {
  return systemClock.sleep(ms);
}

/** Polls `fn` until it returns true; rejects naming `what` (and `detail()`, if given) after `timeoutMs`. */
export async function waitUntil(
  what: string,
  fn: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
  detail?: () => string,
): Promise<void> {
  const deadline = systemClock.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (systemClock.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await sleep(intervalMs);
  }
}

// ------------------------------------------------------------ child processes

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `node scripts/from-sources.mjs ARGS` with stdout and stderr appended to `logPath`. */
export class DaemonProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;

  constructor(
    readonly name: string,
    args: string[],
    readonly logPath: string,
    /** The checkout whose `scripts/from-sources.mjs` runs; default this one. */
    repo: string = REPO,
  ) {
    const fd = openSync(logPath, 'a');
    try {
      this.proc = spawn(process.execPath, ['scripts/from-sources.mjs', ...args], {
        cwd: repo,
        stdio: ['ignore', fd, fd],
        // The config's LogLevel decides, unless CHAOS_LOG_LEVEL (e.g. debug) asks for more.
        env: { ...process.env, LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? '' },
      });
    } finally {
      closeSync(fd);
    }
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.once('error', () => {
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  get exitStatus(): Exit | undefined {
    return this.exit;
  }

  /** Sends `signal` and waits up to `timeoutMs` for the exit; then SIGKILLs and waits for that. */
  async stop(signal: NodeJS.Signals, timeoutMs: number): Promise<{ exit: Exit; timedOut: boolean }> {
    if (!this.running) return { exit: this.exit!, timedOut: false };
    this.proc.kill(signal);
    const timedOut = await Promise.race([this.exited.then(() => false), sleep(timeoutMs).then(() => true)]);
    if (timedOut) this.proc.kill('SIGKILL');
    return { exit: await this.exited, timedOut };
  }

  /** SIGKILL now, from a synchronous context (process exit): no waiting. */
  killNow(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }

  /** The JSON log records written so far (lines that do not parse are skipped). */
  records(): Array<Record<string, unknown>> {
    return logRecords(this.logPath);
  }
}

export function logRecords(path: string): Array<Record<string, unknown>> {
  if (!existsSync(path)) return [];
  const out: Array<Record<string, unknown>> = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line being written as we read, or not JSON: skip.
    }
  }
  return out;
}

/** The last `n` lines of a file, each cut to `width` characters. */
export function tail(path: string, n = 30, width = 400): string {
  if (!existsSync(path)) return `(${path}: no such file)`;
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n);
  return lines.map((l) => (l.length > width ? `${l.slice(0, width)}...` : l)).join('\n');
}

/** `text` with every line indented by `n` spaces (a block scalar in a YAML config). */
export function indent(text: string, n: number): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');
}
