/**
 * VMs whose SSH goes wrong, probed by the pool's real workers through the
 * dispatcher's SSH executor, against servers on 127.0.0.1 that the test
 * controls: TCP that never finishes the handshake, bytes that are not SSH,
 * connections dropped in the middle of `crunch-run --list` and of
 * `--detach`, garbage command output, and commands that never answer (the
 * instance secret read of the host key check among them).
 *
 * All of them share one pool with two healthy VMs, so the test also shows
 * that nothing else waits on a bad VM: the healthy ones are probed every
 * ProbeInterval throughout and take containers. Time is the pool's
 * ManualClock (probes, command timeouts, the handshake deadline, the boot
 * timeout); the sockets are real, so each simulated second also gets a few
 * real milliseconds for the loopback traffic.
 *
 * Timeouts (config below): ProbeInterval 2 s, TimeoutBooting 60 s, so the
 * handshake deadline is 6 s (3 x ProbeInterval, at least 5 s) and the
 * command timeout 60 s (ProbeInterval, at least 60 s). A failing worker is
 * probed again at the next round after its probe ends. These VMs are all
 * found in the cloud list (`unknown`), so one that never answers is shut
 * down at the first probe round TimeoutBooting after it appeared, as by the
 * reference, or by the first failing probe that started past then.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { HostKeyVerificationNotImplemented } from '../../src/cloud/errors.js';
import type { Instance, InstanceSet } from '../../src/cloud/types.js';
import { ManualClock } from '../../src/clock/index.js';
import { sshConnectTimeoutMs, vmSshExecutor } from '../../src/vm-access.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { WorkerPoolImpl } from '../../src/worker/pool.js';
import { compilePoolConfig } from '../../src/worker/pool-config.js';
import { type CommandContext, type CommandResult, generateHostKey, SshServer } from '../../drivers/lame/sshd.js';
import { DISPATCH_KEY, makeCluster } from '../drivers/lame/helpers.js';

const PROBE = 2_000;
const BOOTING = 60_000;
const U1 = 'zzzzz-dz642-000000000000001';
const U2 = 'zzzzz-dz642-000000000000002';
const U3 = 'zzzzz-dz642-000000000000003';
/** Simulated time the pool runs for: long enough for the slowest shutdown (the VM that never answers). */
const RUN = 260_000;
const CONNECT = 6_000;
const COMMAND = 60_000;

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A VM behind a real socket, and what happened to it. */
interface TestVM {
  id: string;
  address: string;
  /** Clock times of the `--list` commands that reached it. */
  lists: number[];
  /** TCP connections accepted. */
  accepted: number;
  /** Sockets still open (server side). */
  open(): number;
  destroyedAt?: number;
  close(): Promise<void>;
}

type Behaviour = (ctx: CommandContext, vm: TestVM, server: SshServer) => Promise<CommandResult> | undefined;

const ok = (stdout = ''): Promise<CommandResult> => Promise.resolve({ stdout, exitCode: 0 });

describe('worker pool: VMs whose SSH goes wrong', function () {
  this.timeout(60_000);
  const clock = new ManualClock();
  const cluster = makeCluster();
  Object.assign(cluster.Containers.CloudVMs, { ProbeInterval: PROBE, TimeoutBooting: BOOTING, TimeoutProbe: BOOTING, MaxProbesPerSecond: 1000, TimeoutIdle: 3_600_000 });
  const vms = new Map<string, TestVM>();
  const logs = new LineCollector();
  let pool: WorkerPoolImpl;
  /** Released at the end: the answers of the VM that never answers. */
  let releaseSlow!: () => void;
  const slowGate = new Promise<void>((resolve) => (releaseSlow = resolve));
  const vmSide = new AbortController();
  let dropDetachOnce = true;
  const detached: string[] = [];
  /** Clock times of the instance secret reads that reached `secret-hangs`. */
  const secretReads: number[] = [];

  /**
   * A VM with a real SSH server; `behaviour` may answer a command itself,
   * else it is a healthy VM that answers after `delayMs` of the clock.
   */
  async function sshVM(id: string, behaviour?: Behaviour, delayMs = 0): Promise<void> {
    const running = new Set<string>();
    let vm!: TestVM;
    const server: SshServer = new SshServer({
      hostKey: generateHostKey().private,
      authorizedKeys: [DISPATCH_KEY.public],
      handler: async (ctx) => {
        if (ctx.command.includes('--list')) vm.lists.push(clock.now());
        const special = behaviour?.(ctx, vm, server);
        if (special) return special;
        // The VM's own waiting is on the same clock; aborted at the end so only the pool's timers are counted.
        if (delayMs > 0) await clock.sleep(delayMs, vmSide.signal);
        if (ctx.command.includes('--list')) return ok([...running].map((u) => `${u}\n`).join(''));
        if (ctx.command.includes('--detach')) {
          const uuid = ctx.command.trim().split(/\s+/).pop()!.replace(/'/g, '');
          running.add(uuid);
          detached.push(`${id} ${uuid}`);
          return ok();
        }
        return ok('running\n');
      },
    });
    await server.start();
    let accepted = 0;
    const countAccepted = (): void => void accepted++;
    // The listener is the server's own; count its connections through it.
    (server as unknown as { listener: net.Server }).listener.on('connection', countAccepted);
    vm = {
      id,
      address: server.address,
      lists: [],
      get accepted() {
        return accepted;
      },
      open: () => server.connectionCount(),
      close: () => server.close(),
    };
    vms.set(id, vm);
  }

  /** A VM whose port is a plain TCP server: `onSocket` decides what it says. */
  async function tcpVM(id: string, onSocket: (s: net.Socket) => void): Promise<void> {
    const sockets = new Set<net.Socket>();
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      // Read (and drop) what the client sends, so its FIN is seen and the socket closes.
      s.resume();
      onSocket(s);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    vms.set(id, {
      id,
      address: `127.0.0.1:${port}`,
      lists: [],
      get accepted() {
        return accepted;
      },
      open: () => sockets.size,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
  }

  function instanceSet(): InstanceSet {
    // `secret-*` VMs are checked as on EC2 or GCE: the driver cannot verify
    // the key, so the pool reads the instance secret over SSH and compares it
    // with the tag. The others' drivers accept any key.
    const snapshot = (vm: TestVM): Instance => ({
      id: vm.id,
      providerType: 'lame.small',
      tags: {
        ArvadosInstanceSetID: 'ssh-faults',
        ArvadosInstanceType: 'small',
        ArvadosIdleBehavior: vm.id.endsWith('-held') ? 'hold' : 'run',
        ...(vm.id.startsWith('secret-') ? { ArvadosInstanceSecret: 'f00d'.repeat(10) } : {}),
      },
      address: vm.address,
      remoteUser: 'crunch',
      setTags: async () => {},
      destroy: async () => {
        vm.destroyedAt ??= clock.now();
      },
      verifyHostKey: async () => {
        if (vm.id.startsWith('secret-')) throw new HostKeyVerificationNotImplemented();
      },
    });
    return {
      create: () => Promise.reject(new Error('no creates in this test')),
      instances: async () => [...vms.values()].map(snapshot),
      stop: () => undefined,
    };
  }

  const state = (id: string) => pool.detail(id)?.workerState;
  const container = (uuid: string) => ({ uuid, priority: 1, created_at: new Date(clock.now()).toISOString() }) as Parameters<WorkerPoolImpl['startContainer']>[1];

  /** Simulated seconds, each followed by a little real time for the sockets. */
  async function run(ms: number, each?: () => void): Promise<void> {
    for (let t = 0; t < ms; t += 1000) {
      await clock.advance(1000);
      await realSleep(20);
      each?.();
    }
  }

  before(async () => {
    await sshVM('good-1');
    await sshVM('good-2');
    // (a) accepts TCP, never says a word.
    await tcpVM('silent', () => undefined);
    // (c) not SSH at all: an HTTP answer, then the connection closes.
    await tcpVM('http', (s) => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'));
    // (c) not SSH at all: endless bytes, connection left open.
    await tcpVM('noise', (s) => {
      s.write(Buffer.alloc(64 * 1024, 0x41));
    });
    // (b) drops the connection in the middle of every --list.
    await sshVM('drop-list', (ctx, _vm, server) => {
      if (!ctx.command.includes('--list')) return undefined;
      server.dropConnections();
      return new Promise(() => undefined);
    });
    // (b) drops the connection in the middle of the first --detach, before crunch-run started.
    await sshVM('drop-detach', (ctx, _vm, server) => {
      if (!ctx.command.includes('--detach') || !dropDetachOnce) return undefined;
      dropDetachOnce = false;
      server.dropConnections();
      return new Promise(() => undefined);
    });
    // (c) SSH, but the output is garbage: binary noise and lines that look like this cluster's UUIDs.
    await sshVM('garbage-out', (ctx) => {
      if (ctx.command.includes('--list')) return ok(`\x00\xff\xfe garbage\nzzzzz-dz642-notacontainer\nzzzzz-dz642-000000000000009 !!\n${'x'.repeat(10_000)}\n`);
      return ok('\x1b[31m??\x00\n');
    });
    // (d) very slow: SSH works, but no command ever answers (until the test ends).
    await sshVM('slow', () => slowGate.then(() => ({ exitCode: 0 })));
    // (d) the same, on hold: never shut down, so a probe is still waiting when the pool stops.
    await sshVM('slow-held', () => slowGate.then(() => ({ exitCode: 0 })));
    // (d) the host key check hangs: reading the instance secret never answers (until the test ends).
    await sshVM('secret-hangs', (ctx) => {
      if (!ctx.command.includes('arvados-instance-secret')) return undefined;
      secretReads.push(clock.now());
      return slowGate.then(() => ({ exitCode: 1 }));
    });
    // (d) slow, but within the command timeout: each command takes 20 s.
    await sshVM('sluggish', undefined, 20_000);

    const log = createLogger({ stream: logs, level: 'debug', clock });
    pool = new WorkerPoolImpl({
      cluster,
      instanceSet: instanceSet(),
      newExecutor: (inst) => vmSshExecutor(cluster, inst, { sshPort: 22, privateKey: DISPATCH_KEY.private, clock, logger: log }),
      clock,
      logger: log,
      instanceSetId: 'ssh-faults',
      publicKey: '',
    });
    pool.start();
    await realSleep(50);
    // Containers go to the healthy VMs and to drop-detach once each is ready, as a scheduler would.
    const want = new Map<string, string>([
      [U1, 'good-1'],
      [U2, 'drop-detach'],
    ]);
    await run(RUN, () => {
      for (const [uuid, id] of want) {
        if (state(id) === 'idle' && pool.startContainer(id, container(uuid))) want.delete(uuid);
      }
      // After the dropped --detach has been noticed (the next --list did not show it), try it again elsewhere.
      if (pool.exited().has(U2) && !want.has(U3) && !pool.running().has(U3)) {
        pool.forgetContainer(U2);
        want.set(U3, 'drop-detach');
      }
    });
  });

  after(async () => {
    releaseSlow();
    vmSide.abort();
    pool?.stop();
    await realSleep(50);
    for (const vm of vms.values()) await vm.close();
  });

  it('the timeouts the test relies on are the documented ones', () => {
    const cfg = compilePoolConfig(cluster, undefined);
    assert.equal(sshConnectTimeoutMs(cluster.Containers.CloudVMs), CONNECT);
    assert.equal(cfg.commandTimeout, COMMAND);
  });

  it('healthy VMs are probed every ProbeInterval throughout and take containers', () => {
    for (const id of ['good-1', 'good-2']) {
      const lists = vms.get(id)!.lists;
      assert.ok(lists.length >= RUN / PROBE - 5, `${id}: ${lists.length} probes`);
      const gaps = lists.slice(1).map((t, i) => t - lists[i]);
      // A round every ProbeInterval; one may be missed while the previous --list is still on the wire.
      assert.ok(Math.max(...gaps) <= 3 * PROBE, `${id}: longest gap between probes ${Math.max(...gaps)} ms`);
      assert.equal(vms.get(id)!.destroyedAt, undefined);
    }
    assert.ok(detached.includes(`good-1 ${U1}`));
    assert.equal(state('good-1'), 'running');
    assert.deepEqual(pool.detail('good-1')?.runningContainerUUIDs, [U1]);
  });

  for (const id of ['silent', 'http', 'noise']) {
    it(`${id}: each probe fails (handshake deadline or error), is tried again, and TimeoutBooting shuts it down`, () => {
      const vm = vms.get(id)!;
      assert.ok(vm.accepted >= 5, `connections tried: ${vm.accepted}`);
      assert.ok(vm.destroyedAt !== undefined, 'shut down');
      const t0 = pool.detail(id)!.appearedAt;
      const after = vm.destroyedAt - t0;
      // By the first probe that starts past TimeoutBooting: it may wait for the one before it to fail.
      assert.ok(after >= BOOTING && after <= BOOTING + 2 * CONNECT + 2 * PROBE + 2_000, `shut down ${after} ms after appearing`);
      assert.equal(state(id), 'shutdown');
    });
  }

  it('drop-list: probes are tried again after each drop, and TimeoutBooting shuts it down', () => {
    const vm = vms.get('drop-list')!;
    assert.ok(vm.lists.length >= 5, `--list tried ${vm.lists.length} times`);
    assert.ok(vm.destroyedAt !== undefined);
    const after = vm.destroyedAt - pool.detail('drop-list')!.appearedAt;
    assert.ok(after >= BOOTING && after <= BOOTING + 3 * PROBE + 2_000, `shut down ${after} ms after appearing`);
  });

  it('drop-detach: the container whose --detach was cut off is given back at the next probe, and the VM stays in service', () => {
    const vm = vms.get('drop-detach')!;
    assert.equal(vm.destroyedAt, undefined);
    assert.ok(pool.exited().has(U2) || !pool.running().has(U2), 'the cut-off start is not believed running');
    assert.ok(detached.includes(`drop-detach ${U3}`), 'a later --detach on the same VM worked');
    assert.deepEqual(pool.detail('drop-detach')?.runningContainerUUIDs, [U3]);
  });

  it('garbage-out: in service with nothing adopted, the garbage logged (rate-limited)', () => {
    assert.equal(state('garbage-out'), 'idle');
    assert.deepEqual(pool.detail('garbage-out')?.runningContainerUUIDs, []);
    const warnings = logs.records().filter((r) => r.msg === 'probe output has lines that are not container UUIDs; ignoring them' && r.Instance === 'garbage-out');
    assert.ok(warnings.length >= 2 && warnings.length <= RUN / 60_000 + 1, `${warnings.length} warnings in ${RUN} ms, at most one a minute`);
  });

  it('slow: a VM whose commands never answer is shut down at the first probe round TimeoutBooting after it appeared, its first probe still waiting', () => {
    const vm = vms.get('slow')!;
    assert.ok(vm.destroyedAt !== undefined, 'shut down');
    const after = vm.destroyedAt - pool.detail('slow')!.appearedAt;
    // Its first probe's boot probe waits out the command timeout (60 s, as
    // long as TimeoutBooting): the round that finds it silent that long does not wait for it.
    assert.ok(after >= BOOTING && after <= BOOTING + PROBE + 2_000, `shut down ${after} ms after appearing`);
    assert.deepEqual(vm.lists, [], 'no --list: the boot probe never answered');
    const shutdown = logs.records().find((r) => r.msg === 'shutdown worker' && r.Instance === 'slow');
    assert.equal(shutdown?.State, 'unknown', 'logged as the reference logs an idle shutdown');
  });

  it('secret-hangs: the host key check (the instance secret read) hangs like a command, and TimeoutBooting shuts the VM down', () => {
    const vm = vms.get('secret-hangs')!;
    assert.ok(vm.destroyedAt !== undefined, 'shut down');
    const after = vm.destroyedAt - pool.detail('secret-hangs')!.appearedAt;
    // As `slow`.
    assert.ok(after >= BOOTING && after <= BOOTING + PROBE + 2_000, `shut down ${after} ms after appearing`);
    assert.ok(secretReads.length >= 1, `secret read ${secretReads.length} times`);
    assert.deepEqual(vm.lists, [], 'no command ran before the host key was trusted');
    // Not a refused key: nothing said the VM is someone else.
    const refused = logs.records().filter((r) => r.msg === 'SSH host key refused' && r.Instance === 'secret-hangs');
    assert.deepEqual(refused, []);
  });

  it('slow-held: on hold, probed again and again, never shut down', () => {
    const vm = vms.get('slow-held')!;
    assert.equal(vm.destroyedAt, undefined);
    assert.equal(state('slow-held'), 'unknown');
    assert.ok(vm.lists.length >= 2, `--list tried ${vm.lists.length} times`);
  });

  it('sluggish: commands that answer within the command timeout bring the VM into service', () => {
    assert.equal(state('sluggish'), 'idle');
    assert.equal(vms.get('sluggish')!.destroyedAt, undefined);
  });

  it('nothing leaks: after stop, no timer is left on the clock and every socket closes', async () => {
    // Commands are in flight on slow-held and sluggish as the pool stops.
    assert.equal(pool.detail('slow-held')?.probing, true);
    pool.stop();
    releaseSlow();
    vmSide.abort();
    for (let i = 0; i < 40 && [...vms.values()].some((vm) => vm.open() > 0); i++) await realSleep(25);
    assert.deepEqual(
      [...vms.values()].filter((vm) => vm.open() > 0).map((vm) => `${vm.id}: ${vm.open()}`),
      [],
    );
    assert.equal(clock.pendingTimers(), 0);
  });
});
