/**
 * systemd readiness and status for `Type=notify` (systemd/arvados-dispatch-cloud.service).
 *
 * Node cannot send on an AF_UNIX datagram socket, so messages go through
 * the `systemd-notify` program (TOOLCHAIN.md). systemd then sees
 * systemd-notify's pid rather than ours, which is why the unit says
 * `NotifyAccess=all`. When `NOTIFY_SOCKET` is unset (not under systemd,
 * or a unit of another Type) everything here is a no-op, and a failure to
 * notify is logged, never fatal: a dispatcher that cannot tell systemd it
 * is ready is still a working dispatcher.
 */
import { execFile } from 'node:child_process';
import type { Clock, Timer } from '../clock/index.js';
import type { Logger } from '../log.js';

/** What to tell systemd; fields left out are not sent. */
export interface NotifyState {
  /** READY=1: startup finished; `systemctl start` returns. */
  ready?: boolean;
  /** STATUS=...: the one line `systemctl status` shows. */
  status?: string;
  /** STOPPING=1: shutting down on purpose. */
  stopping?: boolean;
}

/** Runs systemd-notify with `args`; the seam tests replace. */
export type NotifyCommand = (args: string[], env: NodeJS.ProcessEnv) => Promise<void>;

/** Where a failure to notify is reported; a winston Logger fits. */
export interface NotifyLogger {
  error(message: string, meta: Record<string, unknown>): unknown;
}

export interface NotifyOptions {
  env?: NodeJS.ProcessEnv;
  logger?: NotifyLogger;
  command?: NotifyCommand;
}

/** The systemd-notify arguments for `state`. */
export function notifyArgs(state: NotifyState): string[] {
  const args: string[] = [];
  if (state.ready) args.push('--ready');
  // A plain assignment: `--stopping` only exists from systemd 253 on (Debian 12 has 252).
  if (state.stopping) args.push('STOPPING=1');
  // Status is one line in `systemctl status`; a newline would end the field early.
  if (state.status !== undefined) args.push(`--status=${state.status.replace(/\s+/g, ' ')}`);
  return args;
}

const runSystemdNotify: NotifyCommand = (args, env) =>
  new Promise((resolve, reject) => {
    // systemd-notify waits (sd_notify_barrier) until systemd has read the
    // message, so it cannot exit before systemd maps its pid to our unit;
    // the timeout only guards against a manager that never answers.
    execFile('systemd-notify', args, { env, timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`systemd-notify ${args.join(' ')}: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });

/** Sends `state` to systemd when NOTIFY_SOCKET is set; resolves in every case (failures are logged). */
export async function notify(state: NotifyState, opts: NotifyOptions = {}): Promise<void> {
  const env = opts.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return;
  const args = notifyArgs(state);
  if (args.length === 0) return;
  try {
    await (opts.command ?? runSystemdNotify)(args, env);
  } catch (err) {
    opts.logger?.error('error notifying init daemon', { error: (err as Error).message });
  }
}

/** The little the notifier reads from the container queue (ContainerQueueImpl fits). */
export interface QueueView {
  /** `updated` is 0 until the first successful poll. */
  entries(): { entries: ReadonlyMap<string, { container: { state: string } }>; updated: number };
  subscribe(listener: () => void): () => void;
}

/** The little the notifier reads from the worker pool (WorkerPoolImpl fits). */
export interface PoolView {
  /** True once the cloud instance list has been loaded. */
  loaded(): boolean;
  countWorkers(): Record<string, number>;
  subscribe(listener: () => void): () => void;
}

/** The daemon is ready once it knows both halves of its world: the controller's queue and the cloud's VMs. */
export interface ReadinessGate {
  isReady(): boolean;
  /** E.g. "12 containers (3 running, 9 queued), 5 VMs (4 running, 1 booting)". */
  summary(): string;
}

/** Readiness and the status line, read from the queue and the pool. */
export function readinessGate(source: { queue: QueueView; pool: PoolView }): ReadinessGate {
  return {
    isReady: () => source.queue.entries().updated > 0 && source.pool.loaded(),
    summary: () => `${containerSummary(source.queue)}, ${vmSummary(source.pool)}`,
  };
}

const CONTAINER_STATES: ReadonlyArray<[string, string]> = [
  ['Running', 'running'],
  ['Locked', 'locked'],
  ['Queued', 'queued'],
];
const VM_STATES = ['running', 'idle', 'booting', 'unknown', 'shutdown'];

function containerSummary(queue: QueueView): string {
  const counts = new Map<string, number>();
  for (const e of queue.entries().entries.values()) counts.set(e.container.state, (counts.get(e.container.state) ?? 0) + 1);
  const parts = CONTAINER_STATES.filter(([s]) => counts.get(s)).map(([s, word]) => `${counts.get(s)} ${word}`);
  const total = CONTAINER_STATES.reduce((n, [s]) => n + (counts.get(s) ?? 0), 0);
  return counted(total, 'container', parts);
}

function vmSummary(pool: PoolView): string {
  const counts = pool.countWorkers();
  const parts = VM_STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
  const total = Object.values(counts).reduce((n, c) => n + c, 0);
  return counted(total, 'VM', parts);
}

function counted(n: number, noun: string, parts: string[]): string {
  const head = `${n} ${noun}${n === 1 ? '' : 's'}`;
  return parts.length > 0 ? `${head} (${parts.join(', ')})` : head;
}

/** What the notifier reads a dispatcher through. */
export interface NotifierTarget {
  queue: QueueView;
  pool: PoolView;
}

export interface SystemdNotifierOptions extends NotifyOptions {
  /**
   * The dispatcher, or anything with its queue and pool. Under the dispatch
   * lock, a function: the current tenure's dispatcher, undefined between
   * tenures (each tenure has a new one).
   */
  dispatcher: NotifierTarget | (() => NotifierTarget | undefined);
  /**
   * Under the dispatch lock: why nothing is dispatched now (waiting for the
   * lock, waiting out an earlier holder, lost), undefined while it is held.
   * A standby is up and may wait for hours, so with this READY=1 goes out at
   * once, and the status line says this while it is set.
   */
  notDispatching?: () => string | undefined;
  clock: Clock;
  logger: Pick<Logger, 'error' | 'warn' | 'debug' | 'info'>;
  /** Fewest ms between two status updates; changes in between are merged. Default 5 s. */
  minIntervalMs?: number;
  /** How often readiness and the summary are re-read, besides on queue and pool changes. Default 1 s. */
  checkIntervalMs?: number;
}

const STARTING = 'starting: waiting for the first queue poll and cloud instance list';

export interface SystemdNotifier {
  /** Stops updating and tells systemd the daemon is stopping. */
  stop(): Promise<void>;
  /** Resolves when every message sent so far has been handed to systemd-notify (tests). */
  idle(): Promise<void>;
}

/**
 * Tells systemd the daemon is ready once the first queue poll and the first
 * cloud list have succeeded, then keeps the status line current, at most
 * once per `minIntervalMs`. Under the dispatch lock (`notDispatching`), ready
 * at once, and the status line follows the lock and each tenure's dispatcher.
 * Without NOTIFY_SOCKET it does nothing at all.
 */
export function startSystemdNotifier(opts: SystemdNotifierOptions): SystemdNotifier {
  const env = opts.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return { stop: async () => undefined, idle: async () => undefined };
  const { clock, logger, notDispatching } = opts;
  const source = opts.dispatcher;
  const current = typeof source === 'function' ? source : () => source;
  const minInterval = opts.minIntervalMs ?? 5_000;
  // Under the lock, READY=1 goes out at once: a standby is up and serving.
  let ready = notDispatching !== undefined;
  let stopped = false;
  let lastStatus = '';
  let lastSentAt = -Infinity;
  // Messages go out one at a time, in order: READY=1 must not overtake the first status.
  let chain: Promise<void> = Promise.resolve();
  let failures = 0;
  const send = (state: NotifyState): void => {
    chain = chain.then(() =>
      notify(state, {
        env,
        command: opts.command,
        // One error says systemd-notify is failing (the reference's message and level);
        // repeating it every few seconds would say nothing new.
        logger: { error: (msg, meta) => (failures++ === 0 ? logger.error(msg, meta) : logger.debug(msg, meta)) },
      }),
    );
  };

  // The dispatcher followed now (a new one each tenure of the dispatch lock), and whether it has been ready.
  let target: NotifierTarget | undefined;
  let gate: ReadinessGate | undefined;
  let targetReady = false;
  let unsubscribe: Array<() => void> = [];
  const follow = (next: NotifierTarget | undefined): void => {
    if (next === target) return;
    for (const u of unsubscribe) u();
    target = next;
    gate = next && readinessGate(next);
    targetReady = false;
    unsubscribe = next ? [next.queue.subscribe(check), next.pool.subscribe(check)] : [];
  };

  const check = (): void => {
    if (stopped) return;
    follow(current());
    const why = notDispatching?.();
    // Dispatching, and this dispatcher has polled the queue and listed the cloud: its summary.
    const summary = why === undefined && gate?.isReady() ? gate.summary() : undefined;
    if (summary !== undefined && !targetReady) {
      targetReady = true;
      logger.info('ready: first queue poll and cloud instance list done', { Status: summary });
    }
    if (!ready) {
      if (summary === undefined) return;
      ready = true;
      lastStatus = summary;
      lastSentAt = clock.now();
      send({ ready: true, status: summary });
      return;
    }
    const status = why ?? summary ?? STARTING;
    if (status === lastStatus || clock.now() - lastSentAt < minInterval) return;
    lastStatus = status;
    lastSentAt = clock.now();
    send({ status });
  };

  if (ready) {
    lastStatus = notDispatching!() ?? STARTING;
    lastSentAt = clock.now();
    send({ ready: true, status: lastStatus });
  } else send({ status: STARTING });
  const timer: Timer = clock.setRepeatingTimer(opts.checkIntervalMs ?? 1_000, check);
  check();

  return {
    async stop() {
      if (stopped) return chain;
      stopped = true;
      timer.cancel();
      follow(undefined);
      send({ stopping: true, status: 'stopping: VMs and containers are left for the next start to adopt' });
      return chain;
    },
    idle: () => chain,
  };
}
