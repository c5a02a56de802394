/**
 * The emulated crunch-run against the test controller, over the in-process
 * transport under a manual clock: the controller is reached over real HTTP
 * (so the test polls, boundedly, for what the process reports), while run
 * times move only when the test advances the clock.
 */
import assert from 'node:assert/strict';
import type { Instance } from '../../../src/cloud/types.js';
import { ManualClock } from '../../../src/clock/index.js';
import type { Cluster } from '../../../src/config/types.js';
import type { Executor } from '../../../src/ssh/executor.js';
import { crunchRunDetachCommand, crunchRunKillCommand, crunchRunListCommand, withSudo } from '../../../src/arvados/crunch-run.js';
import { crunchRunConfigJSON } from '../../../src/worker/runner.js';
import { type LameInstance, lameDriver, type LameInstanceSet, resetLameClouds } from '../../../drivers/lame/index.js';
import { DEFAULT_RETRY } from '../../../drivers/lame/api.js';
import { PRICES_FILE } from '../../../drivers/lame/crunch-run.js';
import { apiSettings, noLocalKeepstoreReason } from '../../../drivers/lame/crunch-run-config.js';
import { TestController } from '../../fixtures/controller.js';
import { createArgs, DISPATCH_KEY, makeCluster, makeContext, ROOT_TOKEN, SMALL, waitFor } from './helpers.js';

describe('lame crunch-run', function () {
  this.timeout(20_000);
  let clock: ManualClock;
  let ctl: TestController;
  let cluster: Cluster;
  let set: LameInstanceSet;
  let inst: LameInstance;
  let exec: Executor;

  const setup = async (params: Record<string, unknown> = {}, transport: 'inprocess' | 'ssh' = 'inprocess'): Promise<void> => {
    const ctx = makeContext({ cluster, clock });
    set = (await lameDriver(
      { Transport: transport, MinBootTime: 0, MaxBootTime: 0, MinRunTime: '10s', MaxRunTime: '10s', Seed: 7, ...params },
      ctx,
    )) as LameInstanceSet;
    const { tags, init } = createArgs(ctx.instanceSetId);
    inst = (await set.create(SMALL, 'lame-image', tags, init, DISPATCH_KEY.public)) as LameInstance;
    exec = inst.vm.executor();
  };

  const sudo = (cmd: string): string => withSudo(cmd, inst.remoteUser);

  const detach = async (uuid: string) => {
    const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: inst.address, uuid });
    return exec.execute(sudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid })), {
      stdin: cfg,
    });
  };

  const list = async (): Promise<string> => {
    const r = await exec.execute(sudo(crunchRunListCommand('crunch-run')));
    assert.equal(r.exitCode, 0, r.stderr.toString());
    return r.stdout.toString();
  };

  const kill = (uuid: string) => exec.execute(sudo(crunchRunKillCommand('crunch-run', uuid)));

  const state = (uuid: string) => ctl.get(uuid)?.state;

  /** Waits until the process has armed its run timer, so advancing the clock moves it. */
  const waitRunning = (uuid: string) => waitFor(`${uuid} to be running`, () => inst.vm.processes.get(uuid)?.phase === 'running');

  const waitGone = (uuid: string) => waitFor(`${uuid}'s crunch-run to exit`, () => inst.vm.processes.get(uuid)?.alive === false);

  beforeEach(async () => {
    clock = new ManualClock();
    ctl = new TestController({ rootToken: ROOT_TOKEN, clock });
    await ctl.start();
    cluster = makeCluster({ controllerURL: ctl.url });
  });

  afterEach(async () => {
    exec?.close();
    await resetLameClouds();
    await ctl.stop();
  });

  it('runs a container: Locked -> Running -> Complete with exit code 0, listed while alive', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked' });
    const r = await detach(c.uuid);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    const out = JSON.parse(r.stdout.toString()) as { UUID: string; PID: number };
    assert.equal(out.UUID, c.uuid);
    assert.ok(out.PID > 0);
    await waitRunning(c.uuid);
    assert.equal(state(c.uuid), 'Running');
    assert.equal(await list(), `${c.uuid}\n`);
    await clock.advance(10_000);
    await waitFor('Complete', () => state(c.uuid) === 'Complete');
    assert.equal(ctl.get(c.uuid)?.exit_code, 0);
    await waitGone(c.uuid);
    assert.equal(await list(), '');
    assert.equal(inst.vm.processes.size, 0, '--list removes the released lockfile');
    assert.deepEqual(
      ctl.history(c.uuid).map((h) => h.state),
      ['Locked', 'Running', 'Complete'],
    );
  });

  it('["sleep", "N"] runs N seconds of clock time', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '30'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    await clock.advance(29_999);
    assert.equal(state(c.uuid), 'Running');
    assert.equal(inst.vm.processes.get(c.uuid)?.phase, 'running');
    await clock.advance(1);
    await waitFor('Complete', () => state(c.uuid) === 'Complete');
  });

  it('["false"] completes with exit code 1', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['false'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitFor('Complete', () => state(c.uuid) === 'Complete');
    assert.equal(ctl.get(c.uuid)?.exit_code, 1);
  });

  it('--kill 15 cancels a running container and exits 0 once the process is gone', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    const r = await kill(c.uuid);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal(state(c.uuid), 'Cancelled');
    assert.equal(await list(), '');
    // Killing what is not there (any more, or ever) succeeds.
    assert.equal((await kill(c.uuid)).exitCode, 0);
    assert.equal((await kill('zzzzz-dz642-999999999999999')).exitCode, 0);
  });

  it('--kill exits 1 while a slow process is still alive (KillDelay), 0 after', async () => {
    await setup({ KillDelay: '3s' });
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    // The kill handler arms its one-second wait before execute() returns its promise.
    const first = kill(c.uuid);
    await clock.advance(1000);
    const r = await first;
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr.toString(), /still alive/);
    assert.equal(state(c.uuid), 'Running');
    await clock.advance(2000);
    await waitFor('Cancelled', () => state(c.uuid) === 'Cancelled');
    await waitGone(c.uuid);
    assert.equal((await kill(c.uuid)).exitCode, 0);
  });

  it('a crashed crunch-run leaves the container Running and shows as stale while its lock is held', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    assert.ok(inst.vm.crashCrunchRun(c.uuid, { staleLockMs: 5000 }));
    assert.equal(await list(), `${c.uuid} stale\n`);
    assert.equal((await kill(c.uuid)).exitCode, 0, 'the process is already gone');
    await clock.advance(5000);
    assert.equal(await list(), '');
    assert.equal(state(c.uuid), 'Running', 'nobody finalised the container');
  });

  it('refuses a second detach while the lock is held', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    const again = await detach(c.uuid);
    assert.equal(again.exitCode, 1);
    assert.match(again.stderr.toString(), /resource temporarily unavailable/);
  });

  it('refuses a detach whose arguments leave more than the UUID after the flags (exit 2), as crunch-run does, without starting anything', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked' });
    const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: inst.address, uuid: c.uuid });
    // A bool flag does not take the next word as its value: `false` ends the flags.
    const cmd = crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: ['-enable-memory-limit', 'false'], uuid: c.uuid });
    const r = await exec.execute(sudo(cmd), { stdin: cfg });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr.toString(), /missing required argument: container-uuid/);
    assert.equal(inst.vm.processes.size, 0, 'nothing started');
  });

  it('detaches with a runtime engine it does not know, then exits before touching the container, which stays Locked; singularity runs', async () => {
    await setup();
    const run = async (engine: string) => {
      const c = ctl.addContainer({ state: 'Locked' });
      const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: inst.address, uuid: c.uuid });
      const r = await exec.execute(sudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: engine, argumentsList: [], uuid: c.uuid })), { stdin: cfg });
      assert.equal(r.exitCode, 0, 'the detach itself succeeds, as crunch-run checks the engine in the background');
      return c.uuid;
    };
    const podman = await run('podman');
    await waitGone(podman);
    assert.deepEqual(
      ctl.history(podman).map((h) => h.state),
      ['Locked'],
      'never Running',
    );
    assert.equal(await list(), '', 'and its lock is gone with it');
    const singularity = await run('singularity');
    await waitRunning(singularity);
    assert.equal(state(singularity), 'Running');
  });

  it('answers -help with its usage and -version with its release, exit 0 before the arguments are checked, starting nothing', async () => {
    await setup({ CrunchRunVersion: '3.2.1' });
    const c = ctl.addContainer({ state: 'Locked' });
    const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: inst.address, uuid: c.uuid });
    const run = (argumentsList: string[]) => exec.execute(sudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList, uuid: c.uuid })), { stdin: cfg });
    const help = await run(['-h']);
    assert.deepEqual([help.exitCode, help.stdout.toString(), help.stderr.toString()], [0, '', 'Usage: crunch-run [options] container-uuid\n']);
    const version = await run(['-version', 'extra']);
    assert.deepEqual([version.exitCode, version.stdout.toString()], [0, 'crunch-run 3.2.1\n']);
    assert.equal(inst.vm.processes.size, 0, 'nothing started');
    const badBool = await run(['-enable-memory-limit=maybe']);
    assert.deepEqual([badBool.exitCode, badBool.stderr.toString()], [2, 'error parsing command line arguments: invalid boolean value "maybe" for -enable-memory-limit: parse error (try -help)\n']);
  });

  /** `crunch-run ARGS` on the VM, with sudo unless `root` is false. */
  const crunchRunWith = (args: string, opts: { stdin?: string; root?: boolean } = {}) =>
    exec.execute(opts.root === false ? `crunch-run ${args}` : sudo(`crunch-run ${args}`), opts.stdin === undefined ? undefined : { stdin: opts.stdin });

  it('-detach with -list detaches, as crunch-run checks -detach first: it prints the lock owner, runs no container and leaves a released lockfile', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked' });
    const seen: string[] = [];
    inst.vm.cloud.onDetach((e) => seen.push(e.uuid));
    for (const args of [`-list -detach ${c.uuid}`, `-detach -list ${c.uuid}`]) {
      const r = await crunchRunWith(args);
      assert.equal(r.exitCode, 0, r.stderr.toString());
      const out = JSON.parse(r.stdout.toString()) as { UUID: string; PID: number };
      assert.equal(out.UUID, c.uuid, args);
      assert.ok(out.PID > 0, `${args}: a PID is printed`);
      assert.equal(inst.vm.processes.get(c.uuid)?.lockHeld, false, `${args}: the background copy listed and exited, releasing the lock`);
    }
    assert.deepEqual(seen, [], 'no container run was started');
    assert.equal(await list(), '', 'the released lockfile is dropped, not listed');
    assert.deepEqual(
      ctl.history(c.uuid).map((h) => h.state),
      ['Locked'],
      'the container was never touched',
    );
  });

  it('-detach with -list and -stdin-prices detaches, and its background copy stores the prices it reads', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked' });
    const prices = '[{"StartTime":"2026-01-01T00:00:00Z","Price":0.03}]';
    const r = await crunchRunWith(`-detach -list -stdin-prices ${c.uuid}`, { stdin: prices });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal((JSON.parse(r.stdout.toString()) as { UUID: string }).UUID, c.uuid);
    assert.equal(inst.vm.files.get(PRICES_FILE)?.toString(), prices);
  });

  it('-detach with -kill detaches rather than kills: refused while the lock is held, the running container left alone', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    const r = await crunchRunWith(`-kill 15 -detach ${c.uuid}`);
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr.toString(), /lock \/var\/lock\/crunch-run-.*\.lock: resource temporarily unavailable/);
    assert.equal(state(c.uuid), 'Running', 'nothing was signalled');
    assert.equal(inst.vm.processes.get(c.uuid)?.alive, true, 'the process still runs');
    // With the lock free it detaches, and the background copy only kills.
    const d = ctl.addContainer({ state: 'Locked' });
    const free = await crunchRunWith(`-detach -kill 15 ${d.uuid}`);
    assert.equal(free.exitCode, 0, free.stderr.toString());
    assert.equal((JSON.parse(free.stdout.toString()) as { UUID: string }).UUID, d.uuid);
    assert.equal(inst.vm.processes.get(d.uuid)?.alive, false, 'no container run was started');
    assert.equal(state(d.uuid), 'Locked');
  });

  it('-kill with -list kills, as crunch-run checks -kill before -list', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    const r = await crunchRunWith(`-list -kill 15 ${c.uuid}`);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), '', 'no listing');
    assert.match(r.stderr.toString(), /: pid \d+: os: process already finished/);
    assert.equal(state(c.uuid), 'Cancelled');
  });

  it('-list without a UUID lets -detach and -kill act on the empty UUID, as crunch-run does; without -list a mode needs its UUID (exit 2)', async () => {
    await setup();
    const killed = await crunchRunWith('-list -kill 15');
    assert.deepEqual([killed.exitCode, killed.stdout.toString(), killed.stderr.toString()], [0, '', ''], 'no lockfile for the empty UUID: nothing to kill');
    const detached = await crunchRunWith('-list -detach');
    assert.equal(detached.exitCode, 0, detached.stderr.toString());
    assert.equal((JSON.parse(detached.stdout.toString()) as { UUID: string }).UUID, '');
    assert.equal(inst.vm.processes.get('')?.lockHeld, false, 'the background copy listed and exited');
    for (const args of ['-detach', '-kill 15', '-detach -stdin-config']) {
      const r = await crunchRunWith(args);
      assert.deepEqual([r.exitCode, r.stderr.toString()], [2, 'missing required argument: container-uuid (try -help)\n'], args);
    }
  });

  it('a first word -no-detach makes -detach ignored, so -list or -kill act; anywhere else it is an unknown flag (exit 2)', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    const listed = await crunchRunWith('-no-detach -detach -list');
    assert.deepEqual([listed.exitCode, listed.stdout.toString()], [0, `${c.uuid}\n`], listed.stderr.toString());
    const short = await crunchRunWith('-no-detach -detach not-a-uuid');
    assert.deepEqual([short.exitCode, short.stderr.toString()], [1, 'usage: crunch-run [options] UUID\n'], 'a foreground run needs a 27-character UUID');
    const late = await crunchRunWith(`-detach -no-detach ${c.uuid}`);
    assert.deepEqual([late.exitCode, late.stderr.toString()], [2, 'error parsing command line arguments: flag provided but not defined: -no-detach (try -help)\n']);
    const killed = await crunchRunWith(`-no-detach -detach -kill 15 ${c.uuid}`);
    assert.equal(killed.exitCode, 0, killed.stderr.toString());
    assert.equal(state(c.uuid), 'Cancelled');
  });

  it('needs root for -list -detach, which detaches, but not for -list, -help or a refused flag', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked' });
    const r = await crunchRunWith(`-list -detach ${c.uuid}`, { root: false });
    assert.deepEqual([r.exitCode, r.stderr.toString()], [1, 'crunch-run: permission denied (run it with sudo)\n']);
    assert.equal(inst.vm.processes.size, 0, 'nothing detached');
    assert.equal((await crunchRunWith('-list', { root: false })).exitCode, 0);
    assert.equal((await crunchRunWith('-help', { root: false })).exitCode, 0);
    assert.equal((await crunchRunWith(`-bogus ${c.uuid}`, { root: false })).exitCode, 2);
  });

  it('onDetach tells listeners of each accepted --detach, not of refused ones, until unsubscribed', async () => {
    await setup();
    const seen: Array<{ vm: string; uuid: string; pid: number; at: number }> = [];
    const off = inst.vm.cloud.onDetach((e) => seen.push({ vm: e.vm.id, uuid: e.uuid, pid: e.pid, at: e.at }));
    inst.vm.cloud.onDetach(() => {
      throw new Error('a broken listener must not break the VM');
    });
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    const r = await detach(c.uuid);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    const pid = (JSON.parse(r.stdout.toString()) as { PID: number }).PID;
    assert.deepEqual(seen, [{ vm: inst.id, uuid: c.uuid, pid, at: clock.now() }]);
    assert.equal((await detach(c.uuid)).exitCode, 1, 'the lock is held');
    assert.equal(seen.length, 1, 'a refused detach is not reported');
    off();
    const d = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(d.uuid)).exitCode, 0);
    assert.equal(seen.length, 1, 'unsubscribed');
  });

  it('CrunchRunCrashRate 1 crashes every run mid-way without finalising', async () => {
    await setup({ CrunchRunCrashRate: 1 });
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '100'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitRunning(c.uuid);
    await clock.advance(100_000);
    await waitGone(c.uuid);
    assert.equal(state(c.uuid), 'Running');
    assert.equal(await list(), '');
  });

  it('RefuseStartsFrom..RefuseStartsUntil: every start in that window of the cloud\'s time exits 2 without a lock; before and after, starts work, and --list throughout', async () => {
    await setup({ RefuseStartsFrom: '1m', RefuseStartsUntil: '2m' });
    const [a, b, c] = [0, 1, 2].map(() => ctl.addContainer({ state: 'Locked', command: ['sleep', '10'] }));
    assert.equal((await detach(a.uuid)).exitCode, 0, 'before the window');
    await clock.advance(60_000);
    const refused = await detach(b.uuid);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr.toString(), /refused \(DriverParameters RefuseStartsFrom\.\.RefuseStartsUntil\)/);
    assert.equal(inst.vm.processes.has(b.uuid), false, 'no lockfile, no process');
    assert.equal(state(b.uuid), 'Locked');
    await waitGone(a.uuid);
    assert.equal(await list(), '', 'the first has finished; --list answers in the window');
    await clock.advance(59_999);
    assert.equal((await detach(b.uuid)).exitCode, 2, 'the window is open until its end');
    await clock.advance(1);
    assert.equal((await detach(c.uuid)).exitCode, 0, 'after the window');
    await waitRunning(c.uuid);
    assert.equal(state(c.uuid), 'Running');
  });

  it('a crunch-run for a container that is not Locked exits without touching it', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Queued' });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    await waitGone(c.uuid);
    assert.equal(state(c.uuid), 'Queued');
  });

  it('gives up, after retries on the clock, when the controller cannot be reached', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked' });
    ctl.fail503(100);
    assert.equal((await detach(c.uuid)).exitCode, 0);
    const alive = () => inst.vm.processes.get(c.uuid)?.alive === true;
    // While a request is in flight the only timer is its 30 s timeout; a
    // backoff timer is sooner. Step the clock to each backoff as it is armed.
    const backoffArmed = () => (clock.nextTimerAt() ?? Infinity) < clock.now() + 30_000;
    let backoffs = 0;
    for (;;) {
      await waitFor('a backoff or the exit', () => backoffArmed() || !alive());
      if (!alive()) break;
      await clock.advanceTo(clock.nextTimerAt()!);
      backoffs++;
    }
    assert.equal(backoffs, DEFAULT_RETRY.attempts - 1, 'a wait between attempts (503s are retried, as crunch-run does)');
    assert.equal(ctl.requestLog().filter((e) => e.status === 503).length, DEFAULT_RETRY.attempts);
    assert.equal(state(c.uuid), 'Locked');
  });

  it('reads the price history only with --stdin-prices, as crunch-run does', async () => {
    await setup();
    const prices = '[{"StartTime":"2026-01-01T00:00:00Z","Price":0.03}]';
    assert.equal((await exec.execute(sudo(crunchRunListCommand('crunch-run')), { stdin: prices })).exitCode, 0);
    assert.equal(inst.vm.files.has(PRICES_FILE), false, 'stdin ignored without the flag');
    const r = await exec.execute(sudo(crunchRunListCommand('crunch-run', { stdinPrices: true })), { stdin: prices });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.equal(inst.vm.files.get(PRICES_FILE)?.toString(), prices);
  });

  it('refuses a flag it does not have as Go does (exit 2), before detaching; a release before 3.2.1 has no --stdin-prices and reads prices without it', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked' });
    const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: inst.address, uuid: c.uuid });
    const typo = crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: ['--cgroup-parent-subsytem=memory'], uuid: c.uuid });
    const r = await exec.execute(sudo(typo), { stdin: cfg });
    assert.equal(r.exitCode, 2);
    assert.equal(r.stderr.toString(), 'error parsing command line arguments: flag provided but not defined: -cgroup-parent-subsytem (try -help)\n');
    assert.equal(inst.vm.processes.size, 0, 'nothing started');
    // Its real flags, with values given either way, are taken.
    const known = crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: ['--cgroup-parent-subsystem=memory', '-crunchstat-interval', '5s'], uuid: c.uuid });
    assert.equal((await exec.execute(sudo(known), { stdin: cfg })).exitCode, 0);

    await setup({ CrunchRunVersion: '3.2.0' });
    const prices = '[{"StartTime":"2026-01-01T00:00:00Z","Price":0.03}]';
    const refused = await exec.execute(sudo(crunchRunListCommand('crunch-run', { stdinPrices: true })), { stdin: prices });
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr.toString(), /flag provided but not defined: -stdin-prices/);
    assert.equal(inst.vm.files.has(PRICES_FILE), false);
    assert.equal((await exec.execute(sudo(crunchRunListCommand('crunch-run')), { stdin: prices })).exitCode, 0);
    assert.equal(inst.vm.files.get(PRICES_FILE)?.toString(), prices, '3.2.0 reads stdin on every --list');
    // The dispatcher sends nothing on stdin without a price history: the prices it had stay.
    assert.equal((await exec.execute(sudo(crunchRunListCommand('crunch-run')))).exitCode, 0);
    assert.equal(inst.vm.files.get(PRICES_FILE)?.toString(), prices, 'an empty stdin keeps the prices');
  });

  it('starts a local keepstore only when the config carries the cluster (LocalKeepBlobBuffersPerVCPU > 0)', async () => {
    await setup();
    const withCluster = ctl.addContainer({ state: 'Locked' });
    assert.equal((await detach(withCluster.uuid)).exitCode, 0);
    await waitRunning(withCluster.uuid);
    assert.equal(inst.vm.processes.get(withCluster.uuid)?.localKeepstore, true);
    cluster.Containers.LocalKeepBlobBuffersPerVCPU = 0;
    const without = ctl.addContainer({ state: 'Locked' });
    assert.equal((await detach(without.uuid)).exitCode, 0);
    await waitRunning(without.uuid);
    assert.equal(inst.vm.processes.get(without.uuid)?.localKeepstore, false);
  });

  it("decides on a local keepstore as crunch-run does: buffers, the cluster config, and the volumes' access", () => {
    const base = { KeepBuffers: 2, Cluster: { Collections: { DefaultReplication: 2 }, Volumes: {} } };
    assert.equal(noLocalKeepstoreReason(base), undefined);
    assert.match(noLocalKeepstoreReason({ ...base, KeepBuffers: 0 })!, /KeepBuffers=0/);
    assert.match(noLocalKeepstoreReason({ ...base, Cluster: null })!, /cluster config file was not loaded/);
    const vol = (v: object) => ({ ...base, Cluster: { ...base.Cluster, Volumes: { 'zzzzz-nyw5e-000000000000000': v } } });
    assert.match(noLocalKeepstoreReason(vol({ AccessViaHosts: { 'http://keep:25107/': {} }, Replication: 2 }))!, /AccessViaHosts/);
    assert.match(noLocalKeepstoreReason(vol({ Replication: 1 }))!, /replication less than/);
    assert.equal(noLocalKeepstoreReason(vol({ Replication: 1, ReadOnly: true })), undefined);
  });

  it('takes the API host, token and insecure flag from the config Env, as crunch-run does', () => {
    const env = (e: Record<string, string>) => ({ Env: { ARVADOS_API_HOST: 'ctl.example:443', ARVADOS_API_TOKEN: 't', ...e } }) as Parameters<typeof apiSettings>[0];
    assert.deepEqual(apiSettings(env({})), { apiHost: 'ctl.example:443', token: 't', insecure: false });
    for (const off of ['', '0', 'false']) assert.equal(apiSettings(env({ ARVADOS_API_HOST_INSECURE: off })).insecure, false, JSON.stringify(off));
    for (const on of ['1', 'true', 'yes']) assert.equal(apiSettings(env({ ARVADOS_API_HOST_INSECURE: on })).insecure, true, on);
    assert.equal(apiSettings(env({ ARVADOS_API_INSECURE: '1' })).insecure, true, 'the older name too');
    assert.throws(() => apiSettings(env({ ARVADOS_API_TOKEN: '' })), /lacks Env\.ARVADOS_API_HOST or Env\.ARVADOS_API_TOKEN/);
    assert.throws(() => apiSettings(env({ ARVADOS_API_HOST: '' })), /lacks Env\.ARVADOS_API_HOST or Env\.ARVADOS_API_TOKEN/);
  });

  it('needs root for --detach and --kill but not --list; as root (AdminUsername root) no sudo is needed', async () => {
    await setup();
    const c = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    assert.equal((await detach(c.uuid)).exitCode, 0);
    const plainKill = await exec.execute(crunchRunKillCommand('crunch-run', c.uuid));
    assert.equal(plainKill.exitCode, 1);
    assert.match(plainKill.stderr.toString(), /permission denied/);
    const plainList = await exec.execute(crunchRunListCommand('crunch-run'));
    assert.equal(plainList.exitCode, 0, plainList.stderr.toString());
    assert.equal(plainList.stdout.toString(), `${c.uuid}\n`);

    await setup({ AdminUsername: 'root' });
    assert.equal(sudo('crunch-run --list'), 'crunch-run --list', 'no sudo for root');
    const d = ctl.addContainer({ state: 'Locked', command: ['sleep', '1000'] });
    const r = await detach(d.uuid);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    await waitRunning(d.uuid);
    assert.equal((await kill(d.uuid)).exitCode, 0);
    assert.equal(state(d.uuid), 'Cancelled');
  });

  it('prints broken in --list once the VM is broken', async () => {
    await setup();
    assert.equal(await list(), '');
    inst.vm.break();
    assert.equal(await list(), 'broken\n');
  });

  it('BrokenRate 1 makes every VM report broken BrokenAfter its boot', async () => {
    await setup({ BrokenRate: 1, BrokenAfter: '1m' });
    assert.equal(await list(), '');
    await clock.advance(60_000);
    assert.equal(await list(), 'broken\n');
  });

  it('gives the same results over SSH as in-process', async () => {
    // SSH needs the real clock for its own timeouts; run times are zero here.
    await ctl.stop();
    ctl = new TestController({ rootToken: ROOT_TOKEN });
    await ctl.start();
    cluster = makeCluster({ controllerURL: ctl.url });
    const ctx = makeContext({ cluster });
    set = (await lameDriver({ MinBootTime: 0, MaxBootTime: 0, MinRunTime: 0, MaxRunTime: 0 }, ctx)) as LameInstanceSet;
    const { tags, init } = createArgs(ctx.instanceSetId);
    inst = (await set.create(SMALL, 'lame-image', tags, init, DISPATCH_KEY.public)) as LameInstance;
    const { SshExecutor } = await import('../../../src/ssh/ssh-executor.js');
    exec = new SshExecutor({ target: inst.address, username: inst.remoteUser, privateKey: DISPATCH_KEY.private, verifyHostKey: async () => {} });
    const ok = ctl.addContainer({ state: 'Locked', command: ['true'] });
    const bad = ctl.addContainer({ state: 'Locked', command: ['false'] });
    assert.equal((await detach(ok.uuid)).exitCode, 0);
    assert.equal((await detach(bad.uuid)).exitCode, 0);
    await waitFor('both Complete', () => state(ok.uuid) === 'Complete' && state(bad.uuid) === 'Complete');
    assert.equal(ctl.get(ok.uuid)?.exit_code, 0);
    assert.equal(ctl.get(bad.uuid)?.exit_code, 1);
    await waitGone(ok.uuid);
    await waitGone(bad.uuid);
    assert.equal(await list(), '');
    assert.equal(set.executorFor(inst as Instance), undefined, 'no in-process executor with Transport ssh');
  });
});
