/**
 * The emulated crunch-run: what its command line (`--list`, `--kill`,
 * `--detach --stdin-config`; parsed in `src/arvados/crunch-run-args.ts`) does, and its
 * background process, which moves the container Locked -> Running ->
 * Complete/Cancelled through the controller's
 * real HTTP API, as the real crunch-run does (lib/crunchrun/background.go and
 * crunchrun.go in the reference).
 *
 * Each process stands for both the crunch-run process and its lockfile
 * (`/var/lock/crunch-run-UUID.lock`), because `--list` reports on lockfiles:
 *
 * | process | lock       | `--list` prints | and then                           |
 * | ------- | ---------- | --------------- | ---------------------------------- |
 * | alive   | held       | `UUID`          |                                    |
 * | dead    | held       | `UUID stale`    | (a crashed crunch-run whose child, e.g. arv-mount, still holds the lock) |
 * | dead    | released   | nothing         | the lockfile is removed            |
 */
import type { Timer } from '../../src/clock/index.js';
import type { Logger } from '../../src/log.js';
import { apiBaseURL, ControllerApi, DEFAULT_RETRY } from './api.js';
import { type CrunchRunArgs, hasFlag, parseCrunchRunArgs, RUNTIME_ENGINES } from '../../src/arvados/crunch-run-args.js';
import { apiSettings, noLocalKeepstoreReason, parseConfig } from './crunch-run-config.js';
import { collectionPDHs } from '../../src/placement/mounts.js';
import { warmUp } from './disk-cache.js';
import type { CommandResult } from './sshd.js';
import type { LameVM } from './vm.js';

/** Where the real crunch-run keeps the price history `--list` receives on stdin. */
export const PRICES_FILE = '/var/lock/crunch-run-prices.json';

/** How long `--kill` waits for the process to die before saying it is still alive (as the reference). */
export const KILL_WAIT_MS = 1000;

/** What a crunch-run command line does once its flags are read, in crunch-run's own order (see `crunchRun`). */
type Mode = 'detach' | 'kill' | 'list' | 'run';

/**
 * Runs `crunch-run ARGS` on `vm` (the caller has checked that crunch-run is
 * installed and the VM booted). `asRoot`: run with sudo, or as root;
 * `--detach` and `--kill` need it (a choice of the lame cloud, see
 * commands.ts), other modes do not.
 */
export async function crunchRun(vm: LameVM, args: readonly string[], stdin: Buffer, asRoot = true): Promise<CommandResult> {
  // As crunch-run: a first word `-no-detach` (that spelling, first only) is
  // how a detaching crunch-run starts its own background copy. It is taken
  // off before the flags are read, and makes `-detach` ignored; anywhere
  // else it is an unknown flag.
  const noDetach = args[0] === '-no-detach';
  let parsed: CrunchRunArgs;
  try {
    parsed = parseCrunchRunArgs(noDetach ? args.slice(1) : args, vm.cloud.params.CrunchRunVersion);
  } catch (err) {
    return { stderr: `error parsing command line arguments: ${(err as Error).message} (try -help)\n`, exitCode: 2 };
  }
  // As crunch-run: Go's parser answers -help with the usage, and -version
  // is answered before the arguments are checked; both exit 0.
  if (parsed.help) return { stderr: 'Usage: crunch-run [options] container-uuid\n', exitCode: 0 };
  if (parsed.version) return { stdout: `crunch-run ${vm.cloud.params.CrunchRunVersion ?? 'lame'}\n`, exitCode: 0 };
  // Before -stdin-prices existed, --list always read the prices from stdin.
  const readsPrices = parsed.stdinPrices || !hasFlag('stdin-prices', vm.cloud.params.CrunchRunVersion);
  // As crunch-run: every mode but --list takes exactly one argument after the
  // flags (a bool flag given a separate value, `-enable-memory-limit false`,
  // ends the flags there and leaves two).
  if (!parsed.list && parsed.positional.length !== 1) {
    return { stderr: 'missing required argument: container-uuid (try -help)\n', exitCode: 2 };
  }
  // With --list the UUID may be missing: crunch-run then detaches or kills
  // for the empty UUID rather than refusing.
  const uuid = parsed.positional[0] ?? '';
  // As crunch-run, when several modes are given: --detach (unless after
  // -no-detach) first, then --kill, then --list.
  const mode: Mode = parsed.detach && !noDetach ? 'detach' : parsed.kill >= 0 ? 'kill' : parsed.list ? 'list' : 'run';
  if (!asRoot && (mode === 'detach' || mode === 'kill')) return { stderr: 'crunch-run: permission denied (run it with sudo)\n', exitCode: 1 };
  switch (mode) {
    case 'detach': {
      // The background copy gets the same flags after -no-detach, so it
      // kills or lists if asked to, and runs the container only otherwise.
      const child: Mode = parsed.kill >= 0 ? 'kill' : parsed.list ? 'list' : 'run';
      if (child === 'run' && refusingStarts(vm)) {
        return { stderr: 'lame crunch-run: this start is refused (DriverParameters RefuseStartsFrom..RefuseStartsUntil)\n', exitCode: 2 };
      }
      return detach(vm, uuid, stdin, child, { stdinConfig: parsed.stdinConfig, runtimeEngine: parsed.runtimeEngine ?? 'docker', readsPrices });
    }
    case 'kill':
      return kill(vm, uuid, parsed.kill);
    case 'list':
      return list(vm, readsPrices ? stdin : undefined);
    case 'run':
      // As crunch-run: a container UUID has 27 characters.
      if (uuid.length !== 27) return { stderr: 'usage: crunch-run [options] UUID\n', exitCode: 1 };
      return { stderr: 'lame crunch-run: only --list, --kill and --detach are emulated\n', exitCode: 2 };
  }
}

/** `--list`; `prices` is stdin when crunch-run reads it (with `--stdin-prices`, or any time before that flag existed). */
function list(vm: LameVM, prices: Buffer | undefined): CommandResult {
  if (prices && prices.length > 0) vm.files.set(PRICES_FILE, Buffer.from(prices));
  const lines: string[] = [];
  if (vm.reportsBroken) lines.push('broken');
  for (const uuid of [...vm.processes.keys()].sort()) {
    const proc = vm.processes.get(uuid)!;
    if (!proc.lockHeld) {
      // Nobody holds the lock: the reference deletes the abandoned lockfile.
      vm.processes.delete(uuid);
    } else {
      lines.push(proc.alive ? uuid : `${uuid} stale`);
    }
  }
  return { stdout: lines.map((l) => `${l}\n`).join(''), exitCode: 0 };
}

/** `--kill`; an empty `uuid` (`--list --kill N` alone) finds no lockfile, so nothing to do, as in crunch-run. */
async function kill(vm: LameVM, uuid: string, signal: number): Promise<CommandResult> {
  const proc = vm.processes.get(uuid);
  if (!proc) return { exitCode: 0 }; // no lockfile: never ran here
  const gone = { stderr: `${uuid}: pid ${proc.pid}: os: process already finished\n`, exitCode: 0 };
  if (!proc.alive) return gone;
  proc.signal(signal);
  if (proc.alive) {
    const clock = vm.cloud.ctx.clock;
    const stopWaiting = new AbortController();
    await Promise.race([proc.exited, clock.sleep(KILL_WAIT_MS, stopWaiting.signal).catch(() => undefined)]);
    stopWaiting.abort();
  }
  if (!proc.alive) return gone;
  return {
    stderr: `${uuid}: pid ${proc.pid}: sent signal ${signal} (${signalName(signal)}) but process is still alive\n`,
    exitCode: 1,
  };
}

function signalName(signal: number): string {
  return { 0: 'signal 0', 1: 'hangup', 2: 'interrupt', 9: 'killed', 15: 'terminated' }[signal] ?? `signal ${signal}`;
}

/** Within the RefuseStarts window of the lame DriverParameters. */
function refusingStarts(vm: LameVM): boolean {
  const { RefuseStartsFrom: from, RefuseStartsUntil: until } = vm.cloud.params;
  if (until === 0) return false;
  const t = vm.cloud.ctx.clock.now() - vm.cloud.startedAt;
  return t >= from && t < until;
}

/**
 * `--detach`: takes the UUID's lock and starts the background copy, which
 * does what `child` says. Only a `run` child runs the container (and is
 * reported to `onDetach` listeners); a `kill` or `list` child does that and
 * exits at once, its output going to the journal, leaving a released
 * lockfile behind, as crunch-run's does. An empty `uuid` (`--list --detach`
 * alone) is a UUID like any other here, as in crunch-run.
 */
function detach(vm: LameVM, uuid: string, stdin: Buffer, child: Mode, opts: { stdinConfig: boolean; runtimeEngine: string; readsPrices: boolean }): CommandResult {
  const existing = vm.processes.get(uuid);
  if (existing?.lockHeld) {
    return { stderr: `lock /var/lock/crunch-run-${uuid}.lock: resource temporarily unavailable\n`, exitCode: 1 };
  }
  if (child !== 'run') {
    // The copy's --kill finds only its own lockfile, so it signals no other
    // process; its --list does list (dropping released lockfiles, storing
    // the prices it reads from stdin).
    if (child === 'list') list(vm, opts.readsPrices ? stdin : undefined);
    const gone = new CrunchRunProcess(vm, uuid, vm.allocatePid(), { config: undefined, runtimeEngine: opts.runtimeEngine, crashAfterFraction: undefined, defaultRunMs: 0 });
    gone.vanish();
    vm.processes.set(uuid, gone);
    return { stdout: `${JSON.stringify({ UUID: uuid, PID: gone.pid })}\n`, exitCode: 0 };
  }
  const rng = vm.cloud.rng;
  const params = vm.cloud.params;
  // Every random choice of this run is made now, so a seeded run does not
  // depend on how fast the controller answers.
  const crashes = rng.chance(params.CrunchRunCrashRate);
  const crashPoint = rng.next();
  const runMs = rng.between(params.MinRunTime, params.MaxRunTime);
  const proc = new CrunchRunProcess(vm, uuid, vm.allocatePid(), {
    config: opts.stdinConfig ? stdin.toString('utf8') : undefined,
    runtimeEngine: opts.runtimeEngine,
    crashAfterFraction: crashes ? crashPoint : undefined,
    defaultRunMs: runMs,
  });
  vm.processes.set(uuid, proc);
  vm.cloud.reportDetach({ vm, uuid, pid: proc.pid, at: vm.cloud.ctx.clock.now() });
  proc.start();
  return { stdout: `${JSON.stringify({ UUID: uuid, PID: proc.pid })}\n`, exitCode: 0 };
}

// ------------------------------------------------------------ the process

/** Where a process is in its life; tests wait for `running` before moving a manual clock. */
export type ProcessPhase = 'starting' | 'running' | 'finishing' | 'exited';

export interface ProcessPlan {
  /** The JSON given with --stdin-config (undefined: none was given). */
  config: string | undefined;
  /** `--runtime-engine` (crunch-run's default: docker). */
  runtimeEngine: string;
  /** Crash this fraction of the way through the run; undefined: no crash. */
  crashAfterFraction: number | undefined;
  /** Run time for a container whose command says nothing about it. */
  defaultRunMs: number;
}

/** `sleep N; exit C` as the third word of `sh -c`: a run time with an exit code. */
const SLEEP_EXIT = /^sleep (\d+(?:\.\d+)?); exit (\d+)$/;

/**
 * How long the container runs and how it exits, from its `command`:
 * `["sleep", N]`, `["false"]`, `["sh", "-c", "sleep N; exit C"]`; anything
 * else runs `defaultRunMs` and exits 0.
 */
export function runPlan(command: unknown, defaultRunMs: number): { runMs: number; exitCode: number } {
  if (Array.isArray(command)) {
    if (command[0] === 'false' && command.length === 1) return { runMs: 0, exitCode: 1 };
    if (command[0] === 'sleep' && command.length === 2 && /^\d+(\.\d+)?$/.test(String(command[1]))) {
      return { runMs: Number(command[1]) * 1000, exitCode: 0 };
    }
    const m = command.length === 3 && command[0] === 'sh' && command[1] === '-c' ? SLEEP_EXIT.exec(String(command[2])) : null;
    if (m) return { runMs: Number(m[1]) * 1000, exitCode: Number(m[2]) };
  }
  return { runMs: defaultRunMs, exitCode: 0 };
}

export class CrunchRunProcess {
  /** The crunch-run process exists. */
  alive = true;
  /** Its lockfile's lock is held (by it, or after a crash by its leftover children). */
  lockHeld = true;
  phase: ProcessPhase = 'starting';
  /** crunch-run would have started a local keepstore for the container (see `noLocalKeepstoreReason`). */
  localKeepstore = false;
  /** Resolves when the process dies (exit, crash, or VM termination). */
  readonly exited: Promise<void>;
  /** Set once a signal has been delivered (after KillDelay): the run is being cancelled. */
  private terminating = false;
  /** Set by `finishNow()`: the run ends early, normally (Complete). */
  private finishedEarly = false;
  private signalled = false;
  private resolveExited!: () => void;
  /** Wakes the run's sleep when a signal arrives. */
  private readonly wake = new AbortController();
  /** Stops everything, HTTP retries included, when the process dies. */
  private readonly death = new AbortController();
  private readonly timers: Timer[] = [];
  private readonly logger: Logger;

  constructor(
    private readonly vm: LameVM,
    readonly uuid: string,
    readonly pid: number,
    private readonly plan: ProcessPlan,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.logger = vm.logger.child({ ContainerUUID: uuid, PID: pid });
  }

  start(): void {
    void this.main();
  }

  /** Delivers `signal` (after KillDelay). crunch-run then cancels the container and exits. */
  signal(signal: number): void {
    if (!this.alive || signal === 0 || this.signalled) return;
    this.signalled = true;
    const deliver = (): void => {
      if (!this.alive) return;
      this.terminating = true;
      this.wake.abort();
    };
    const delay = this.vm.cloud.params.KillDelay;
    if (delay > 0) this.timers.push(this.vm.cloud.ctx.clock.setTimer(delay, deliver));
    else deliver();
  }

  /**
   * Ends the run now as if its time were up: the container completes with
   * its planned exit code (at once if it is already running, else as soon as
   * it starts). The simulator uses it for a workflow runner whose children
   * are all done. No effect once the process is exiting.
   */
  finishNow(): void {
    if (!this.alive || this.terminating) return;
    this.finishedEarly = true;
    this.wake.abort();
  }

  /** Dies without updating the container; the lock stays held `staleLockMs` longer. */
  crash(staleLockMs: number): void {
    if (!this.alive) return;
    this.logger.info('lame: crunch-run crashed', { StaleLockMs: staleLockMs });
    this.die();
    if (staleLockMs > 0) {
      this.timers.push(this.vm.cloud.ctx.clock.setTimer(staleLockMs, () => (this.lockHeld = false)));
    } else {
      this.lockHeld = false;
    }
  }

  /** The VM went away: the process and its lock vanish at once. */
  vanish(): void {
    for (const t of this.timers.splice(0)) t.cancel();
    this.lockHeld = false;
    this.die();
  }

  private die(): void {
    if (!this.alive) return;
    for (const t of this.timers.splice(0)) t.cancel();
    this.alive = false;
    this.phase = 'exited';
    this.death.abort();
    this.wake.abort();
    this.resolveExited();
  }

  /** Normal exit: the lock goes with the process. */
  private exit(): void {
    if (!this.alive) return;
    this.lockHeld = false;
    this.die();
  }

  private async main(): Promise<void> {
    const clock = this.vm.cloud.ctx.clock;
    let api: ControllerApi | undefined;
    try {
      if (this.vm.reportsBroken) throw new Error('the VM is broken; not starting the container');
      // As crunch-run: an engine it does not know ends it before the
      // container is touched, which stays Locked.
      if (!RUNTIME_ENGINES.includes(this.plan.runtimeEngine)) throw new Error(`${this.uuid}: unsupported RuntimeEngine ${JSON.stringify(this.plan.runtimeEngine)}`);
      const config = parseConfig(this.plan.config);
      const settings = apiSettings(config);
      const noKeepstore = noLocalKeepstoreReason(config);
      this.localKeepstore = noKeepstore === undefined;
      this.logger.debug(noKeepstore === undefined ? 'lame: starting a local keepstore' : `lame: not starting a local keepstore process because ${noKeepstore}`);
      const transport = this.vm.cloud.controllerTransports.get(apiBaseURL(settings.apiHost));
      api = new ControllerApi(settings, clock, this.logger, this.death.signal, DEFAULT_RETRY, transport);
      const ctr = await api.getContainer(this.uuid);
      if (!this.alive) return;
      if (ctr.state !== 'Locked') throw new Error(`container state is ${String(ctr.state)}, not Locked`);
      if (this.terminating) return await this.cancel(api);
      const plan = runPlan(ctr.command, this.plan.defaultRunMs);
      const exitCode = plan.exitCode;
      // As crunch-run, the image is loaded before the container starts (so
      // the pull is spent Locked); cold inputs are read while it runs.
      const warm = warmUp(this.vm.disk, this.vm.cloud.params, ctr.container_image ?? '', collectionPDHs(ctr.mounts), clock.now(), this.vm.cloud.warmUpTotals);
      if (warm.pullMs > 0) {
        this.logger.debug('lame: pulling the container image', { PullMs: warm.pullMs });
        await clock.sleep(warm.pullMs, this.wake.signal).catch(() => undefined);
        if (!this.alive) return;
        if (this.terminating) return await this.cancel(api);
      }
      const runMs = plan.runMs + warm.coldInputMs;
      await api.updateContainer(this.uuid, { state: 'Running' });
      if (!this.alive) return;
      if (this.terminating) return await this.cancel(api);
      const crashAt = this.plan.crashAfterFraction === undefined ? undefined : runMs * this.plan.crashAfterFraction;
      this.phase = 'running';
      this.logger.debug('lame: container running', { RunMs: runMs });
      // A zero-length run must not wait for a manual clock to be moved.
      const sleepMs = crashAt ?? runMs;
      if (sleepMs > 0) await clock.sleep(sleepMs, this.wake.signal).catch(() => undefined);
      if (!this.alive) return;
      if (this.terminating) return await this.cancel(api);
      if (crashAt !== undefined && !this.finishedEarly) {
        this.crash(this.vm.cloud.params.StaleLockTime);
        return;
      }
      this.phase = 'finishing';
      await api.updateContainer(this.uuid, { state: 'Complete', exit_code: exitCode });
      this.logger.info('lame: container complete', { ExitCode: exitCode });
    } catch (err) {
      if (this.alive) this.logger.warn('lame: crunch-run exiting after an error', { error: (err as Error).message });
    } finally {
      api?.close();
      this.exit();
    }
  }

  /** SIGTERM: cancel the container if it is still ours to cancel, then exit. */
  private async cancel(api: ControllerApi): Promise<void> {
    this.phase = 'finishing';
    const ctr = await api.getContainer(this.uuid);
    if (ctr.state === 'Locked' || ctr.state === 'Running') {
      await api.updateContainer(this.uuid, { state: 'Cancelled' });
      this.logger.info('lame: container cancelled after a signal');
    }
  }
}
