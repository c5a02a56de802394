/**
 * The crunch-run processes of one worker (`worker.ts`): a start we make
 * with `--detach`, its promotion from `starting` to `running` (by the start's
 * answer or by a `--list` that already shows it), processes a `--list` shows
 * that we did not start (a previous dispatcher's, adopted), and the exit of
 * each. Every change bumps the worker's `seq` (a probe's older `--list` must
 * not undo it) and keeps the pool's container index in step.
 */
import type { Container } from '../arvados/types.js';
import { crunchRunDetachCommand, withSudo } from '../arvados/crunch-run.js';
import { RemoteRunner } from './remote-runner.js';
import { crunchRunConfigJSON } from './runner.js';
import type { WorkerEnv } from './worker-env.js';
import type { Worker } from './worker.js';

/** Runs `crunch-run --detach` for `ctr` on `w` in the background; the caller has checked that `w` may take it. */
export function startRun(w: Worker, env: WorkerEnv, ctr: Container): void {
  env.stretchStarting?.(w);
  const rr = new RemoteRunner(ctr.uuid, env.clock.now(), w, env.clock, env.cfg, false);
  w.starting.set(ctr.uuid, rr);
  env.indexRunner(ctr.uuid, w, true);
  w.state = 'running';
  w.seq = env.nextSeq();
  rr.log.debug('starting container', { Priority: ctr.priority });
  env.notify();
  void finishStart(w, env, rr, Date.parse(ctr.created_at));
}

/** `createdAt`: the container's created_at (epoch ms, NaN if unparseable), for the queue-to-crunch-run metric. */
async function finishStart(w: Worker, env: WorkerEnv, rr: RemoteRunner, createdAt: number): Promise<void> {
  const { cfg, cluster } = env;
  const command = withSudo(
    crunchRunDetachCommand({
      crunchRunCommand: cfg.crunchRunCommand,
      runtimeEngine: cfg.runtimeEngine,
      argumentsList: cfg.crunchRunArguments,
      uuid: rr.uuid,
    }),
    w.remoteUser,
  );
  const config = crunchRunConfigJSON({ cluster, instanceType: w.type, instanceAddress: w.instance.address, uuid: rr.uuid });
  const outcome = await rr.start(command, config);
  const sinceQueuedMs = env.clock.now() - createdAt;
  env.emit?.({ type: 'crunchRunStartReturned', instanceId: w.id, containerUUID: rr.uuid, sinceQueuedMs, outcome, ...rr.refusal });
  if (rr.closed) return;
  const started = (): void => {
    if (!Number.isNaN(createdAt)) env.emit?.({ type: 'crunchRunStarted', instanceId: w.id, containerUUID: rr.uuid, sinceQueuedMs, instanceType: w.type.Name });
  };
  if (w.running.get(rr.uuid) === rr) {
    // A probe listed it while the start was in flight: started all the same.
    rr.markSettled();
    started();
    return;
  }
  if (w.starting.get(rr.uuid) !== rr) return;
  w.starting.delete(rr.uuid);
  w.seq = env.nextSeq();
  // Started or not, the worker was busy until now and this is the container
  // it was last given, as in the reference: a failed start restarts the
  // idle timeout rather than leaving the VM to be shut down at once.
  w.busy = env.clock.now();
  w.lastUUID = rr.uuid;
  if (outcome === 'failed') {
    // Recorded as an exit, as the reference does: the scheduler unlocks the
    // container, and each new attempt relocks it, so one that can never
    // start (a bad CrunchRunArgumentsList, a refused sudo) is cancelled by
    // the controller after MaxDispatchAttempts rather than retried forever.
    // The record also keeps it from being started elsewhere until then, in
    // case the process did start after all. The worker waits for a good
    // probe first, so a VM that cannot start anything does not swallow the
    // queue one container at a time.
    rr.close();
    env.indexRunner(rr.uuid, w, false);
    env.noteExited(rr.uuid, env.clock.now());
    w.startsBlocked = true;
    settleIdle(w);
    env.notify();
    return;
  }
  w.running.set(rr.uuid, rr);
  env.runnerPromoted();
  rr.markSettled();
  started();
  env.notify();
}

/**
 * Matches `w.running` to the UUIDs a `--list` printed: adopts processes we
 * did not start, promotes our starts, and closes those that are gone. True
 * if anything changed.
 */
export function reconcileRuns(w: Worker, env: WorkerEnv, uuids: readonly string[]): boolean {
  const alive = new Set(uuids);
  let changed = false;
  for (const uuid of uuids) {
    if (w.running.has(uuid)) continue;
    const rr = w.starting.get(uuid);
    if (rr) {
      w.starting.delete(uuid);
      w.running.set(uuid, rr);
      env.runnerPromoted();
    } else {
      w.log.info('crunch-run process detected', { ContainerUUID: uuid });
      w.running.set(uuid, new RemoteRunner(uuid, env.clock.now(), w, env.clock, env.cfg, true));
      env.indexRunner(uuid, w, true);
      env.emit?.({ type: 'crunchRunDetected', instanceId: w.id, containerUUID: uuid });
    }
    changed = true;
  }
  for (const uuid of [...w.running.keys()]) {
    if (!alive.has(uuid)) {
      endRun(w, env, uuid);
      changed = true;
    }
  }
  return changed;
}

/** The process for `uuid` on `w` has exited: forget it and record the exit for the scheduler. */
export function endRun(w: Worker, env: WorkerEnv, uuid: string): void {
  const rr = w.running.get(uuid);
  if (!rr) return;
  rr.log.info('crunch-run process ended');
  w.running.delete(uuid);
  rr.close();
  env.indexRunner(uuid, w, false);
  const now = env.clock.now();
  w.seq = env.nextSeq();
  w.busy = now;
  env.noteExited(uuid, now);
  settleIdle(w);
}

/** A running worker with no process left is idle. */
function settleIdle(w: Worker): void {
  if (w.state === 'running' && w.containerCount() === 0) w.state = 'idle';
}
