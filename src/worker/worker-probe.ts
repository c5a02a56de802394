/**
 * One probe of one worker, and the state change it implies (see
 * `states.md`):
 *
 * - unknown: boot probe and `crunch-run --list`, both;
 * - booting: boot probe (plus the runner deploy); `--list` once it passes;
 * - idle, running: `--list`;
 * - shutdown: nothing.
 *
 * Both passing makes the worker idle (or running, if it has processes).
 * `--list` alone passing updates its processes but leaves it unknown. A
 * failure only counts time: past TimeoutBooting (unknown, booting) or
 * TimeoutProbe (idle, running) since the last success, the worker is shut
 * down. `broken`, or a stale run lock for longer than TimeoutStaleRunLock,
 * drains it (unless it is on hold).
 */
import { createHash } from 'node:crypto';
import { type ExecuteResult, outputFields } from '../ssh/executor.js';
import { CommandTimeoutError, HostKeyCheckPendingError, HostKeyRefusedError, HostKeyUnverifiedError, SshConnectError, SshConnectionLostError, SshSessionError } from '../ssh/errors.js';
import { isContainerUuid } from '../arvados/types.js';
import { crunchRunListCommand, priceHistoryJSON, runnerInstallCommand, runnerMd5Command, runnerMd5Expected, withSudo } from '../arvados/crunch-run.js';
import type { Worker } from './worker.js';
import type { WorkerEnv } from './worker-env.js';
import { goNanoseconds, type Logger } from '../log.js';

/** What `crunch-run --list` printed, for this cluster's containers. */
export interface ListOutput {
  /** Containers whose crunch-run is alive. */
  running: string[];
  /** Containers whose lock is held but whose crunch-run is gone. */
  stale: string[];
  /** The VM says it cannot run containers. */
  broken: boolean;
  /** Lines naming this cluster that are not a container UUID with an optional `stale` (at most 10, cut to 100 characters). */
  garbled: string[];
}

/**
 * Parses `--list` output. Lines for UUIDs of other clusters are ignored (a
 * host shared by several clusters' dispatchers lists them all). A line that
 * starts with this cluster's id but is no container UUID is garbage (a
 * broken VM, a corrupted stream): it must not become a process to adopt,
 * and the caller hears of it.
 */
export function parseListOutput(stdout: string, clusterId: string): ListOutput {
  const out: ListOutput = { running: [], stale: [], broken: false, garbled: [] };
  for (const line of stdout.split('\n')) {
    const s = line.trim();
    if (s === '') continue;
    if (s === 'broken') {
      out.broken = true;
      continue;
    }
    if (!s.startsWith(clusterId)) continue;
    const [uuid, flag, ...rest] = s.split(/\s+/);
    const valid = isContainerUuid(uuid) && rest.length === 0;
    if (valid && flag === undefined) out.running.push(uuid);
    else if (valid && flag === 'stale') out.stale.push(uuid);
    else if (out.garbled.length < 10) out.garbled.push(s.slice(0, 100));
  }
  return out;
}

/** Probes `w` once (unless a probe of it is already in flight) and applies the outcome. */
export async function probeAndUpdate(w: Worker, env: WorkerEnv): Promise<void> {
  if (w.probing || w.removed || w.state === 'shutdown') return;
  w.probing = true;
  try {
    await probe(w, env);
  } finally {
    w.probing = false;
  }
}

async function probe(w: Worker, env: WorkerEnv): Promise<void> {
  const seqAtStart = w.seq;
  const initial = w.state;
  // The timeouts compare against when the probe began, so a slow failure
  // never condemns a VM that recovered before its deadline, and at least one
  // probe starts after the deadline before the worker is given up on.
  const probeStart = env.clock.now();
  // The reference's lines about this probe's outcome carry when it began;
  // built only for one of those (rare) lines, not for every probe.
  const log = (): Logger => w.log.child({ ProbeStart: new Date(probeStart).toISOString() });
  let booted = initial === 'idle' || initial === 'running';
  let bootStderr = '';
  let bootError: string | undefined;
  if (!booted) {
    const b = await probeBooted(w, env);
    booted = b.ok;
    bootStderr = b.stderr;
    bootError = b.error;
    if (booted) log().info('instance booted; will try probeRunning');
  }
  let list: ListOutput | undefined;
  if (booted || w.state === 'unknown') list = await probeRunning(w, env);
  if (w.removed || w.state === 'shutdown') return;

  if (list?.broken && w.idleBehavior === 'run') {
    log().info('probe reported broken instance');
    w.reportBootOutcome('failure');
    w.setIdleBehavior('drain').catch(() => undefined);
    // Draining may have shut it down already (it was idle or booting).
    if (isShutDown(w)) return;
  }

  if (!list || (!booted && list.running.length === 0 && w.running.size === 0)) {
    const dur = probeStart - w.probed;
    if (w.shutdownIfBroken(dur) && !booted) {
      w.reportBootOutcome('failure');
      // Boot probe failures a booting VM normally causes are logged at debug
      // only; this is the one place to say why the VM never came up.
      log().info('boot failed', { DurationMs: dur, Duration: goNanoseconds(dur), stderr: bootStderr.slice(0, 1000), ...(bootError === undefined ? {} : { error: bootError }) });
    }
    return;
  }

  const now = env.clock.now();
  w.probed = now;
  w.startsBlocked = false;
  if (w.seq !== seqAtStart) {
    // A start, kill or sync changed the worker while the probe ran; its
    // `--list` may predate that change. The next probe catches up.
    log().debug('skipping worker state update due to probe/sync race');
    return;
  }
  if (list.running.length > 0) {
    w.busy = now;
    // Only when we never started one here ourselves (an adopted worker): the
    // listing cannot tell which container started last, and the one we
    // started is the better answer.
    if (w.lastUUID === '') w.lastUUID = list.running[0];
  } else if (w.running.size > 0) {
    // It stopped being busy some time since the last probe; now is the
    // earliest the idle timeout can fairly count from.
    w.busy = now;
  }
  let changed = w.updateRunning(list.running);
  if (!w.listed && w.state === 'unknown') env.noteListed?.(now);
  w.listed = true;
  if (booted && (w.state === 'unknown' || w.state === 'booting')) {
    w.state = 'idle';
    changed = true;
  }
  if (!changed) return;
  if (w.state === 'unknown') {
    log().info('crunch-run probe succeeded, but boot probe is still failing', { RunningContainers: w.running.size, State: w.state });
  }
  if (w.state === 'idle' && w.containerCount() > 0) w.state = 'running';
  else if (w.state === 'running' && w.containerCount() === 0) w.state = 'idle';
  w.seq = env.nextSeq();
  if (booted && (initial === 'unknown' || initial === 'booting')) {
    w.reportBootOutcome('success');
    if (initial === 'booting' && w.firstSSHAt > 0) {
      env.emit?.({ type: 'readyForContainer', instanceId: w.id, sinceSshMs: now - w.firstSSHAt });
    }
    log().info('probes succeeded, instance is in service', { State: w.state, RunningContainers: w.running.size });
  }
  env.notify();
  // A drained worker whose last container just ended goes now, not at the next round.
  if (w.idleBehavior === 'drain') w.shutdownIfIdle();
}

/** The boot probe, then (if configured) the runner deploy. */
async function probeBooted(w: Worker, env: WorkerEnv): Promise<{ ok: boolean; stderr: string; error?: string }> {
  const cmd = env.cfg.bootProbeCommand;
  let r: ExecuteResult;
  try {
    r = await w.executor.execute(cmd, { timeoutMs: env.cfg.commandTimeout });
  } catch (err) {
    noteFirstSSH(w, env, false);
    w.log.debug('boot probe failed', { Command: cmd, error: err });
    const kind = unexpectedBootFailure(err);
    if (kind !== undefined) {
      // Not what a booting VM does: most likely configuration (the key, the
      // user, the image), so say so now rather than at TimeoutBooting. One
      // key per kind, not per VM: 50 VMs with a wrong key give one line a minute.
      env.warnings.warn('boot probe failed', { Instance: w.id, Command: cmd, error: err }, `boot probe failed: ${kind}`);
    }
    // No command ran, so no stderr: the failure is the error.
    return { ok: false, stderr: '', error: String((err as Error)?.message ?? err) };
  }
  noteFirstSSH(w, env, true);
  if (r.exitCode !== 0) {
    w.log.debug('boot probe failed', { Command: cmd, ...outputFields(r) });
    // As the reference: a worker found in the cloud gets the runner anyway,
    // so its `--list` (run whatever the boot probe says) can tell what runs
    // there, even after a dispatcher upgrade changed the runner's path.
    if (w.state === 'unknown' && env.cfg.runner && !env.cfg.runnerMissing) await deployRunner(w, env);
    return { ok: false, stderr: r.stderr.toString(), error: outputFields(r).error };
  }
  w.log.info('boot probe succeeded', { Command: cmd, ...outputFields(r) });
  if (env.cfg.runnerMissing) {
    env.warnings.warn('cannot boot worker: error loading runner binary (DeployRunnerBinary)', { Instance: w.id }, 'runner missing');
    return { ok: false, stderr: '', error: 'error loading runner binary' };
  }
  if (env.cfg.runner && !(await deployRunner(w, env))) return { ok: false, stderr: '', error: 'error copying runner binary' };
  return { ok: true, stderr: r.stderr.toString() };
}

/**
 * Records the end of a booting worker's time to SSH, once, after a boot
 * probe. As in the reference, that is the moment its first SSH connection
 * logged in (before the host key or the instance secret is checked, and
 * whatever the command then did), when the executor can tell; otherwise the
 * probe's answer (`answered`), the first moment we know SSH worked. Only a
 * worker we created is timed: an adopted one's boot began before us.
 */
function noteFirstSSH(w: Worker, env: WorkerEnv, answered: boolean): void {
  if (w.firstSSHAt !== 0 || w.state !== 'booting') return;
  const at = w.executor.firstLoginAt?.() ?? (answered ? env.clock.now() : undefined);
  if (at === undefined) return;
  w.firstSSHAt = at;
  env.emit?.({ type: 'sshConnected', instanceId: w.id, sinceAppearedMs: at - w.appeared });
}

/**
 * Undefined for a boot probe error that a booting VM normally causes (the
 * reference's debug-level ones); otherwise a name for its kind, the key of
 * its rate-limited warning:
 *
 * - no address yet, TCP refused, no route, no handshake in time: the VM, its
 *   network or its sshd is not up yet;
 * - `closed`, the server hanging up before the session was ready: what a
 *   booting VM's sshd does when it is restarted as cloud-init installs the
 *   host keys, and what pam_nologin does to a non-root AdminUsername until
 *   boot finishes (an SSH disconnect, "System is booting up"). The
 *   reference warns for an EOF in the handshake, but the same hang-up
 *   during every boot would make that warning noise;
 * - a lost connection: the VM rebooted or sshd restarted mid-command;
 * - a command timeout: a boot probe that waits for the boot to finish
 *   (`cloud-init status --wait`) times out on a VM still booting (the
 *   reference has no command timeout, and so no message at all);
 * - the host key not verifiable yet: the init script has not written the
 *   instance secret (the reference: the secret read's exit status), unless
 *   sudo itself refused the read, which waiting does not mend.
 *
 * Warned about: authentication (a wrong DispatchPrivateKey, AdminUsername or
 * DeployPublicKey), a failed SSH handshake, a refused host key (a different
 * secret, no secret tag, the driver said no), a refused session, and
 * anything unforeseen.
 */
export function unexpectedBootFailure(err: unknown): string | undefined {
  if (err instanceof SshConnectError) {
    switch (err.kind) {
      case 'no-address':
      case 'refused':
      case 'unreachable':
      case 'timeout':
      case 'closed':
        return undefined;
      case 'authentication':
      case 'handshake':
        return err.kind;
    }
  }
  if (err instanceof HostKeyUnverifiedError) return err.cause instanceof HostKeyCheckPendingError && err.cause.sudoRefused ? 'sudo refused' : undefined;
  if (err instanceof SshConnectionLostError || err instanceof CommandTimeoutError) return undefined;
  if (err instanceof HostKeyRefusedError) return 'host key refused';
  if (err instanceof SshSessionError) return 'session refused';
  return err instanceof Error ? err.name : 'error';
}

/**
 * Makes sure the runner binary is on the VM: `md5sum` first, and a copy
 * (binary on stdin) only when the hash is not the expected one.
 */
async function deployRunner(w: Worker, env: WorkerEnv): Promise<boolean> {
  const runner = env.cfg.runner!;
  const path = env.cfg.crunchRunCommand;
  // The reference's field names (lower case).
  const log = w.log.child({ hash: runner.md5hex, path });
  try {
    const sum = await w.executor.execute(runnerMd5Command(path), { timeoutMs: env.cfg.commandTimeout });
    if (sum.exitCode === 0 && sum.stderr.length === 0 && sum.stdout.toString() === runnerMd5Expected(runner.md5hex, path)) {
      log.info('runner binary already exists on worker, with correct hash');
      return true;
    }
    log.info('installing runner binary on worker', { cmd: runnerInstallCommand(path, w.remoteUser) });
    const r = await w.executor.execute(runnerInstallCommand(path, w.remoteUser), {
      action: { Action: 'install', Hash: runner.md5hex },
      stdin: runner.bytes,
      timeoutMs: env.cfg.installTimeout,
    });
    if (r.exitCode !== 0) {
      env.warnings.warn('error copying runner binary', { Instance: w.id, ...outputFields(r) }, `install ${w.id}`);
      return false;
    }
    return true;
  } catch (err) {
    env.warnings.warn('error copying runner binary', { Instance: w.id, error: err }, `install ${w.id}`);
    return false;
  }
}

/**
 * `crunch-run --list`; with `--stdin-prices` and the price history on stdin
 * when the driver has one, as the reference does, so crunch-run can pass the
 * prices to the containers' crunch-run processes for their cost. Undefined
 * when it failed.
 */
async function probeRunning(w: Worker, env: WorkerEnv): Promise<ListOutput | undefined> {
  const prices = w.instance.priceHistory?.(w.type) ?? [];
  const stdin = prices.length > 0 ? priceHistoryJSON(prices) : undefined;
  const listCommand = (): string =>
    withSudo(crunchRunListCommand(env.cfg.crunchRunCommand, { stdinPrices: stdin !== undefined && !w.noPricesFlag }), w.remoteUser);
  let cmd = listCommand();
  let r: ExecuteResult;
  const before = env.clock.now();
  const timed = (outcome: 'success' | 'fail'): void =>
    env.emit?.({ type: 'probeRun', instanceId: w.id, outcome, durationMs: env.clock.now() - before });
  try {
    r = await w.executor.execute(cmd, { stdin, timeoutMs: env.cfg.commandTimeout });
    if (refusedPricesFlag(r, cmd)) {
      // A crunch-run before 3.2.1 (the VM image's; nothing deployed a newer
      // one) has no such flag, and reads the prices from stdin without it.
      w.noPricesFlag = true;
      w.log.warn('crunch-run on this instance does not know --stdin-prices (a release before 3.2.1): listing without it', { stderr: r.stderr.toString().slice(0, 200) });
      cmd = listCommand();
      r = await w.executor.execute(cmd, { stdin, timeoutMs: env.cfg.commandTimeout });
    }
  } catch (err) {
    env.warnings.warn('probe failed', { Instance: w.id, State: w.state, Command: cmd, error: err }, `probe ${w.id}`);
    timed('fail');
    return undefined;
  }
  if (r.exitCode !== 0) {
    env.warnings.warn('probe failed', { Instance: w.id, State: w.state, Command: cmd, ...outputFields(r) }, `probe ${w.id}`);
    timed('fail');
    return undefined;
  }
  w.log.debug('probe succeeded', { Command: cmd, ...outputFields(r) });
  timed('success');
  const out = parseListOutput(r.stdout.toString(), env.cfg.clusterId);
  if (out.garbled.length > 0) {
    env.warnings.warn('probe output has lines that are not container UUIDs; ignoring them', { Instance: w.id, Lines: out.garbled }, `probe garbled ${w.id}`);
  }
  const now = env.clock.now();
  for (const uuid of out.stale) w.log.info('probe reported stale run lock', { ContainerUUID: uuid });
  if (out.stale.length === 0) {
    w.staleRunLockSince = 0;
  } else if (w.staleRunLockSince === 0) {
    w.staleRunLockSince = now;
  } else if (now - w.staleRunLockSince > env.cfg.timeoutStaleRunLock) {
    w.log.warn('reporting broken after reporting stale run lock for too long', { DurationMs: now - w.staleRunLockSince, Duration: goNanoseconds(now - w.staleRunLockSince) });
    out.broken = true;
  }
  return out;
}

/** `--list --stdin-prices` failed as Go's flag parser fails on a flag it does not define. */
function refusedPricesFlag(r: ExecuteResult, cmd: string): boolean {
  return r.exitCode === 2 && cmd.endsWith(' --stdin-prices') && r.stderr.toString().includes('flag provided but not defined: -stdin-prices');
}

/** Read through a function so the compiler does not assume the state stayed what an earlier check saw. */
function isShutDown(w: Worker): boolean {
  return w.state === 'shutdown';
}

/** MD5 of a runner binary, as `RunnerBinary.md5hex` wants it. */
export function runnerMd5Hex(bytes: Buffer): string {
  return createHash('md5').update(bytes).digest('hex');
}
