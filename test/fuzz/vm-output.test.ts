/**
 * Fuzzed VM answers under the worker pool: the real pool (its probe and
 * sync loops on the manual clock) over the fake cloud of the worker tests,
 * whose executor answers every command with what a case draws: `crunch-run
 * --list` output with garbage lines (half UUIDs, other clusters' UUIDs,
 * shell syntax, NULs, lone CRs, CRLF, non-UTF-8 bytes, very long lines,
 * `broken`, `stale`), cut short, huge, or empty; boot probe, `--detach` and
 * `--kill` answers with any exit status and output; the instance secret
 * read of the host key check (modelled as the SSH executor runs it: once,
 * before the first command, until it passes); and the SSH failures the
 * executor reports (refused, closed, authentication, a session refused, a
 * connection lost before or after the command started, a timeout, output
 * over the executor's limit), answers that come late, and answers that
 * never come (the executor's command timeout ends them).
 *
 * Each case creates VMs and finds some already running in the cloud, starts
 * and kills containers on them, lets containers end and VMs vanish, with
 * time passing in between; then every VM fails every command until the
 * longest probe timeout has passed. Checked throughout, from what the pool
 * promises (docs/operators.md sections 4 and 7, src/worker/states.md):
 *
 * - no pool call throws, no promise is left rejected unhandled, and no line
 *   that means a bug (`probe crashed`, `probe round failed`, ...) is logged;
 * - every live worker is probed at least every ProbeInterval plus two
 *   command timeouts (the host key check's and the command's);
 * - every container the pool tracks is a well-formed UUID of this cluster
 *   that we started or that a `--list` printed alone on a line (a line with
 *   anything else, ` stale` aside, is ignored), and every command line the
 *   pool sends is one of the forms it builds, with such a UUID in it;
 * - a kill of any container `running()` lists finds it, and no start goes
 *   ahead for a container the pool already tracks (never two crunch-runs of
 *   one container), even when two VMs list the same one;
 * - a container whose `--detach` answered exit 0 stays tracked while its
 *   worker is in service, until a `--list` that succeeded left it out or
 *   its `--kill` answered exit 0;
 * - every VM in the cloud is tracked by the pool or was destroyed, and once
 *   every probe fails, each is destroyed within TimeoutBooting (or
 *   TimeoutProbe) plus a probe's worth of time;
 * - a log line shows at most the first 1000 characters of a VM's output
 *   (counted with a character the VM output is padded with and nothing else
 *   writes), and at most 10 garbage lines of 100 characters.
 *
 * `npm test` runs 100 cases from a fixed seed, in 5 to 10 s; the full count:
 *   FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/vm-output.test.ts   (or `npm run fuzz`)
 * and FUZZ_SEED=<seed> runs from another seed (a failure prints its seed).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HostKeyVerificationNotImplemented } from '../../src/cloud/errors.js';
import type { Instance } from '../../src/cloud/types.js';
import { settle } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import {
  CommandOutputTooLargeError,
  CommandTimeoutError,
  HostKeyCheckPendingError,
  HostKeyRefusedError,
  HostKeyUnverifiedError,
  SshConnectError,
  SshConnectionLostError,
  SshSessionError,
} from '../../src/ssh/errors.js';
import type { ExecuteOptions, ExecuteResult, Executor } from '../../src/ssh/executor.js';
import { hostKeyVerifier } from '../../src/worker/verify.js';
import { FakeCloud, lockedContainerWith } from '../worker/fake-cloud.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

const QUICK_RUNS = 100;
/** The seed `npm test` runs from; FUZZ_SEED replaces it. */
const DEFAULT_SEED = 20260807;
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : DEFAULT_SEED;

const PROBE = 10_000;
const TIMEOUT_BOOTING = 120_000;
const TIMEOUT_PROBE = 60_000;
const SYNC = 30_000;
/** The pool's command timeout: max(ProbeInterval, 60 s). */
const COMMAND = 60_000;
/** Longest a live worker may go without a probe command: a round's wait, a host key check's timeout and a command's. */
const PROBE_GAP = PROBE + 2 * COMMAND + 5_000;
/**
 * The longest probe round: a worker not known to be booted (state unknown
 * or booting) runs the boot probe and then `--list`, after a host key check
 * on a new connection, each up to a command's timeout.
 */
const PROBE_ROUND = 3 * COMMAND + 5_000;
/**
 * How long every probe fails at the end of a case. As in the reference, a
 * failed probe is judged by when it began, so the round in flight at the
 * deadline does not condemn the VM: the next round, a wait later, does.
 */
const BLACKOUT = Math.max(TIMEOUT_BOOTING, TIMEOUT_PROBE) + PROBE_ROUND + PROBE + PROBE_ROUND;

/** The character big outputs are padded with; nothing but VM output writes it. */
const PAD = '\u01c2';
/** What docs/operators.md section 4 promises: logs show the first 1000 characters of a VM's output. */
const LOGGED_CHARS = 1000;

const CLUSTER = 'zzzzz';
const UUID = /^zzzzz-dz642-[0-9a-z]{15}$/;
const UUID_IN = '(zzzzz-dz642-[0-9a-z]{15})';
/** Every command line the pool may send in this setup (remote user `crunch`, so sudo), with the UUID it names. */
const COMMANDS: RegExp[] = [
  /^systemctl is-system-running$/,
  /^sudo crunch-run --list$/,
  new RegExp(`^sudo crunch-run --detach --stdin-config '--runtime-engine=docker' '${UUID_IN}'$`),
  new RegExp(`^sudo crunch-run --kill 15 ${UUID_IN}$`),
];

/** Lines a VM's stdout may hold besides the truth: garbage of every kind, some of it a good UUID. */
const GARBAGE_LINES = [
  '',
  ' ',
  '\t',
  'broken',
  ' broken ',
  'BROKEN',
  'broken now',
  'stale',
  CLUSTER,
  `${CLUSTER}-dz642-`,
  `${CLUSTER}-dz642-${'a'.repeat(14)}`,
  `${CLUSTER}-dz642-${'a'.repeat(16)}`,
  `${CLUSTER}-DZ642-${'a'.repeat(15)}`,
  `${CLUSTER}-dz642-${'A'.repeat(15)}`,
  `${CLUSTER}-j7d0g-${'a'.repeat(15)}`,
  `${CLUSTER}-dz642-${'a'.repeat(15)};rm -rf /`,
  `${CLUSTER}-dz642-$(reboot)aaaaaa`,
  `${CLUSTER}-dz642-'; reboot; '`,
  `${CLUSTER}-dz642-${'a'.repeat(15)} stale`,
  `${CLUSTER}-dz642-${'b'.repeat(15)}\tstale`,
  `${CLUSTER}-dz642-${'a'.repeat(15)} stale extra`,
  `${CLUSTER}-dz642-${'a'.repeat(15)} running`,
  `${CLUSTER}-dz642-${'a'.repeat(15)}\0`,
  `${CLUSTER}-dz642-aaaaaaa\0aaaaaaa`,
  `${CLUSTER}-dz642-${'a'.repeat(15)}\u00a0`,
  `${CLUSTER}-dz642-${'\u0430'.repeat(15)}`,
  `${CLUSTER}-dz642-${'c'.repeat(15)}`,
  `${CLUSTER}-dz642-000000000000001`,
  `yyyyy-dz642-${'a'.repeat(15)}`,
  `${CLUSTER}${'x'.repeat(5000)}`,
  'Welcome to Ubuntu 24.04 LTS',
  'sudo: unable to resolve host ip-10-0-0-1',
];

/** How a piece of output is shaped. */
interface Noise {
  /** Indexes into GARBAGE_LINES, or random strings, mixed in. */
  lines: Array<number | string>;
  eol: '\n' | '\r\n' | '\r' | 'mixed';
  /** Keep this share of the bytes (1: all). */
  keep: number;
  /** PAD characters added on a line of their own. */
  pad: number;
  /** Bytes that are not UTF-8, added on a line of their own. */
  raw: number[];
}

/** One answer of a VM to one command. */
interface Reply {
  how: 'answer' | 'late' | 'hang' | 'refused' | 'closed' | 'auth' | 'lostBefore' | 'lostAfter' | 'session' | 'tooLarge' | 'odd';
  exit: number;
  /** For `late`: how long after the call (less than the command timeout). */
  delayMs: number;
  /** Stdout: for `--list`, whether the truth is in it; for the secret read, whether the secret is. */
  faithful: boolean;
  /** For `--list`: the truth's lines say ` stale`. */
  stale: boolean;
  out: Noise;
  err: Noise;
  /** For a `--detach` whose answer never says (lost, timeout, too large): whether crunch-run started. */
  started: boolean;
}

const noiseArb: fc.Arbitrary<Noise> = fc.record({
  lines: fc.array(fc.oneof(fc.nat({ max: GARBAGE_LINES.length - 1 }), fc.string({ maxLength: 40, unit: 'binary' })), { maxLength: 5 }),
  eol: fc.constantFrom('\n' as const, '\n' as const, '\r\n' as const, '\r' as const, 'mixed' as const),
  keep: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) }),
  pad: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 900, max: 300_000 }) }),
  raw: fc.oneof({ weight: 4, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 8 }) }),
});

const quietArb: fc.Arbitrary<Noise> = fc.constant({ lines: [], eol: '\n', keep: 1, pad: 0, raw: [] });

function replyArb(failing: boolean): fc.Arbitrary<Reply> {
  const hows: Array<Reply['how']> = ['late', 'hang', 'refused', 'closed', 'auth', 'lostBefore', 'lostAfter', 'session', 'tooLarge', 'odd'];
  return fc.record({
    how: failing
      ? fc.constantFrom<Reply['how']>('answer', ...hows)
      : fc.oneof({ weight: 12, arbitrary: fc.constant<Reply['how']>('answer') }, { weight: 3, arbitrary: fc.constantFrom(...hows) }),
    exit: failing
      ? fc.constantFrom(-1, 1, 2, 3, 127, 137, 255)
      : fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1, 2, 3, 127, 137, 255) }),
    delayMs: fc.integer({ min: 1, max: COMMAND - 1 }),
    faithful: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    stale: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    out: fc.oneof({ weight: 2, arbitrary: quietArb }, { weight: 1, arbitrary: noiseArb }),
    err: fc.oneof({ weight: 2, arbitrary: quietArb }, { weight: 1, arbitrary: noiseArb }),
    started: fc.boolean(),
  });
}

type Step =
  | { t: 'create' }
  | { t: 'seed'; running: number[] }
  | { t: 'start'; vm: number; ctr: number }
  | { t: 'kill'; n: number }
  | { t: 'finish'; vm: number; n: number }
  | { t: 'vanish'; vm: number }
  | { t: 'wait'; ms: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ t: 'create' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('seed' as const), running: fc.array(fc.nat({ max: 29 }), { maxLength: 3 }) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('start' as const), vm: fc.nat(), ctr: fc.nat({ max: 29 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('kill' as const), n: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('finish' as const), vm: fc.nat(), n: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('vanish' as const), vm: fc.nat() }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3 * PROBE }) }) },
);

const caseArb = fc.record({
  steps: fc.array(stepArb, { minLength: 10, maxLength: 60 }),
  replies: fc.array(replyArb(false), { minLength: 1, maxLength: 30 }),
  failures: fc.array(replyArb(true), { minLength: 1, maxLength: 10 }),
});

/** Container `n` (0-29) of the case. */
function uuidOf(n: number): string {
  return `${CLUSTER}-dz642-${String(n).padStart(15, '0')}`;
}

const container = lockedContainerWith;

/** A crunch-run on a VM, as the VM knows it. */
interface Proc {
  /** Our `--detach` for it answered exit 0. */
  confirmed: boolean;
  /** A `--list` that succeeded left it out since: the pool may drop it. */
  mayDrop: boolean;
}

/** One VM, as it is (not as the pool believes). */
interface Vm {
  id: string;
  procs: Map<string, Proc>;
  /** The executor has checked the host key (the SSH executor then never checks it again). */
  trusted: boolean;
  /** When the pool last sent it a probe command (boot probe, `--list`, the secret read), or when its executor was made. */
  probedAt: number;
  /** Containers its `--list` printed alone on a line (maybe with spaces around), at any time. */
  listed: Set<string>;
}

/** The bytes of `text` shaped by `noise`, with the truth lines `truth` first. */
function render(truth: string[], noise: Noise, pick: (i: number) => string): Buffer {
  const lines = [...truth, ...noise.lines.map((l) => (typeof l === 'number' ? GARBAGE_LINES[l] : l))];
  if (noise.pad > 0) lines.push(PAD.repeat(noise.pad));
  let text = '';
  lines.forEach((l, i) => {
    const eol = noise.eol === 'mixed' ? pick(i) : noise.eol;
    text += l + eol;
  });
  let bytes = Buffer.from(text);
  if (noise.raw.length > 0) bytes = Buffer.concat([bytes, Buffer.from(noise.raw), Buffer.from('\n')]);
  return noise.keep < 1 ? bytes.subarray(0, Math.floor(bytes.length * noise.keep)) : bytes;
}

/** What a line of a `--list` output says, as crunch-run means it: a UUID alone on it. */
function aloneOnLines(stdout: Buffer): Set<string> {
  const out = new Set<string>();
  for (const line of stdout.toString().split('\n')) if (UUID.test(line.trim())) out.add(line.trim());
  return out;
}

/** One case: the pool, the cloud, the VMs, and what was sent and logged. */
class World {
  readonly logs = new LineCollector();
  readonly cloud: FakeCloud;
  readonly vms = new Map<string, Vm>();
  readonly problems: string[] = [];
  /** When each VM found in the cloud was put there. */
  private readonly seededAt = new Map<string, number>();
  private replyIndex = 0;
  private failing = false;

  constructor(
    private readonly replies: Reply[],
    private readonly failures: Reply[],
  ) {
    this.cloud = new FakeCloud(
      { ProbeInterval: PROBE, TimeoutBooting: TIMEOUT_BOOTING, TimeoutProbe: TIMEOUT_PROBE, TimeoutIdle: 600_000, SyncInterval: SYNC, MaxInstances: 8 },
      { logger: createLogger({ stream: this.logs, level: 'debug' }), executor: (id) => this.executor(id) },
    );
  }

  /** From now on, every command fails. */
  fail(): void {
    this.failing = true;
  }

  private nextReply(): Reply {
    const list = this.failing ? this.failures : this.replies;
    return list[this.replyIndex++ % list.length];
  }

  private vm(id: string): Vm {
    let vm = this.vms.get(id);
    if (!vm) {
      vm = { id, procs: new Map(), trusted: false, probedAt: this.cloud.clock.now(), listed: new Set() };
      this.vms.set(id, vm);
    }
    return vm;
  }

  /** A VM found in the cloud (a previous dispatcher's), with crunch-runs already going. */
  seed(running: string[]): void {
    const id = this.cloud.seed();
    this.seededAt.set(id, this.cloud.clock.now());
    const vm = this.vm(id);
    for (const uuid of running) vm.procs.set(uuid, { confirmed: false, mayDrop: false });
  }

  private executor(id: string): Executor {
    const vm = this.vm(id);
    vm.probedAt = this.cloud.clock.now();
    return {
      execute: (command, options) => this.execute(vm, command, options),
      setTarget: () => undefined,
      close: () => undefined,
    };
  }

  private async execute(vm: Vm, command: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const form = COMMANDS.findIndex((re) => re.test(command));
    if (form < 0) this.problems.push(`the pool sent a command of no known form: ${JSON.stringify(command.slice(0, 300))}`);
    if (form === 0 || form === 1) vm.probedAt = this.cloud.clock.now();
    const timeoutMs = options.timeoutMs ?? COMMAND;
    if (!vm.trusted) await this.checkHostKey(vm, timeoutMs);
    const uuid = COMMANDS[form]?.exec(command)?.[1];
    const r = this.nextReply();
    const target = `${vm.id}.example:22`;
    // What the command does on the VM, whatever the dispatcher hears of it.
    const ran = !['refused', 'closed', 'auth', 'lostBefore', 'session', 'odd'].includes(r.how);
    const exit = r.how === 'answer' || r.how === 'late' ? r.exit : r.started ? 0 : 1;
    let stdout: Buffer;
    if (form === 1) {
      const truth = r.faithful && ran ? [...vm.procs.keys()].map((u) => (r.stale ? `${u} stale` : u)) : [];
      stdout = render(truth, r.out, (i) => ['\n', '\r\n', '\n\r'][i % 3]);
      if (ran && exit === 0 && (r.how === 'answer' || r.how === 'late')) {
        const alone = aloneOnLines(stdout);
        for (const u of alone) vm.listed.add(u);
        for (const [u, p] of vm.procs) if (!alone.has(u)) p.mayDrop = true;
      }
    } else {
      stdout = render([], r.out, (i) => ['\n', '\r\n'][i % 2]);
    }
    const stderr = render([], r.err, (i) => ['\n', '\r'][i % 2]);
    if (ran && exit === 0 && uuid !== undefined) {
      if (form === 2 && !vm.procs.has(uuid)) vm.procs.set(uuid, { confirmed: false, mayDrop: false });
      if (form === 3) vm.procs.delete(uuid);
    }
    const answer = (): ExecuteResult => {
      if (form === 2 && uuid !== undefined && exit === 0) {
        const p = vm.procs.get(uuid);
        if (p && (r.how === 'answer' || r.how === 'late')) p.confirmed = true;
      }
      return { exitCode: exit, stdout, stderr };
    };
    const clock = this.cloud.clock;
    switch (r.how) {
      case 'answer':
        return answer();
      case 'late':
        return new Promise((resolve) => clock.setTimer(r.delayMs, () => resolve(answer())));
      case 'hang':
        return new Promise((_, reject) => clock.setTimer(timeoutMs, () => reject(new CommandTimeoutError(target, command, timeoutMs))));
      case 'refused':
        throw new SshConnectError(target, 'refused', 'connect: connection refused');
      case 'closed':
        throw new SshConnectError(target, 'closed', 'the server hung up');
      case 'auth':
        throw new SshConnectError(target, 'authentication', 'the server did not accept our key');
      case 'lostBefore':
        throw new SshConnectionLostError(target, 'was lost', false);
      case 'lostAfter':
        throw new SshConnectionLostError(target, 'was lost', true);
      case 'session':
        throw new SshSessionError(target, 'open failed');
      case 'tooLarge':
        throw new CommandOutputTooLargeError(target, command, 'stdout', 16 << 20);
      case 'odd':
        throw new Error(`${PAD.repeat(10)} something else went wrong`);
    }
  }

  /**
   * The SSH executor's host key check before a connection's first command,
   * with the InstanceSecret read answered from the replies; its outcomes
   * reported as the executor reports them.
   */
  private async checkHostKey(vm: Vm, timeoutMs: number): Promise<void> {
    const fake = this.cloud.vms.get(vm.id);
    const tags = { ...(fake?.tags ?? {}) };
    const secret = tags.ArvadosInstanceSecret ?? '';
    const instance: Instance = {
      id: vm.id,
      providerType: 'lame.small',
      tags,
      address: `${vm.id}.example`,
      remoteUser: 'crunch',
      setTags: async () => undefined,
      destroy: async () => undefined,
      verifyHostKey: async () => Promise.reject(new HostKeyVerificationNotImplemented()),
    };
    const target = `${vm.id}.example:22`;
    const untrusted: Executor = {
      execute: async (command) => {
        vm.probedAt = this.cloud.clock.now();
        if (command !== 'sudo cat /var/run/arvados-instance-secret') this.problems.push(`the host key check ran ${JSON.stringify(command)}`);
        const r = this.nextReply();
        if (r.how === 'hang') {
          return new Promise((_, reject) => this.cloud.clock.setTimer(timeoutMs, () => reject(new CommandTimeoutError(target, command, timeoutMs))));
        }
        if (r.how !== 'answer' && r.how !== 'late') throw new SshConnectionLostError(target, 'was lost', true);
        const stdout = render(r.faithful ? [secret] : [], r.out, (i) => ['\n', '\r\n'][i % 2]);
        return { exitCode: r.exit, stdout, stderr: render([], r.err, () => '\n') };
      },
      setTarget: () => undefined,
      close: () => undefined,
    };
    try {
      await hostKeyVerifier(instance, 'ArvadosInstanceSecret', (cmd) => `sudo ${cmd}`)(Buffer.from('key'), untrusted);
    } catch (cause) {
      if (cause instanceof SshConnectionLostError) throw new SshConnectionLostError(target, 'was lost during host key verification', false, { cause });
      if (cause instanceof HostKeyCheckPendingError) throw new HostKeyUnverifiedError(target, 'SHA256:fake', cause);
      throw new HostKeyRefusedError(target, 'SHA256:fake', cause);
    }
    vm.trusted = true;
  }

  async run(step: Step): Promise<void> {
    const pool = this.cloud.pool;
    const live = () => pool.instances().filter((v) => v.workerState !== 'shutdown' && !v.instance.startsWith('pending'));
    switch (step.t) {
      case 'create':
        pool.create(this.cloud.cluster.InstanceTypes.small);
        break;
      case 'seed':
        this.seed(step.running.map(uuidOf));
        break;
      case 'start': {
        const ws = live();
        if (ws.length === 0) break;
        const uuid = uuidOf(step.ctr);
        const tracked = pool.running().has(uuid);
        const id = ws[step.vm % ws.length].instance;
        if (pool.startContainer(id, container(uuid)) && tracked) this.problems.push(`started ${uuid} on ${id} while the pool tracked it already`);
        break;
      }
      case 'kill': {
        const uuids = [...pool.running().keys()].sort();
        if (uuids.length === 0) break;
        const uuid = uuids[step.n % uuids.length];
        if (!pool.killContainer(uuid, 'fuzz')) this.problems.push(`killContainer(${uuid}) found nothing to kill, though running() lists it`);
        break;
      }
      case 'finish': {
        const vms = [...this.vms.values()].filter((v) => v.procs.size > 0);
        if (vms.length > 0) {
          const vm = vms[step.vm % vms.length];
          vm.procs.delete([...vm.procs.keys()][step.n % vm.procs.size]);
        }
        break;
      }
      case 'vanish': {
        const ids = [...this.cloud.vms.keys()];
        if (ids.length > 0) {
          const id = ids[step.vm % ids.length];
          this.cloud.vms.delete(id);
          this.vms.get(id)?.procs.clear();
        }
        break;
      }
      case 'wait':
        await this.cloud.tick(step.ms);
        break;
    }
    await this.cloud.tick(0);
  }

  /** The invariants that hold at every step. */
  check(started: ReadonlySet<string>): void {
    const pool = this.cloud.pool;
    const now = this.cloud.clock.now();
    const views = new Map(pool.instances().map((v) => [v.instance, v]));
    const tracked = new Set(pool.details().map((d) => d.instance));
    for (const [id, fake] of this.cloud.vms) {
      // One found in the cloud is tracked from the next listing on.
      const seen = this.seededAt.get(id);
      if (fake.destroyed === 0 && !tracked.has(id) && (seen === undefined || now - seen > SYNC + PROBE)) {
        this.problems.push(`VM ${id} is in the cloud, not destroyed, and not tracked`);
      }
    }
    for (const v of views.values()) {
      const vm = this.vms.get(v.instance);
      for (const uuid of v.runningContainerUUIDs) {
        if (!UUID.test(uuid)) this.problems.push(`worker ${v.instance} tracks a container that is no UUID of ours: ${JSON.stringify(uuid.slice(0, 200))}`);
        else if (!started.has(uuid) && !vm?.listed.has(uuid)) this.problems.push(`worker ${v.instance} tracks ${uuid}, which we never started and its --list never printed alone on a line`);
      }
      if (!vm || !this.cloud.vms.has(v.instance)) continue;
      if (now - vm.probedAt > PROBE_GAP) this.problems.push(`worker ${v.instance} (${v.workerState}) not probed for ${now - vm.probedAt} ms`);
      for (const [uuid, p] of vm.procs) {
        if (p.confirmed && !p.mayDrop && !v.runningContainerUUIDs.includes(uuid)) {
          this.problems.push(`worker ${v.instance} (${v.workerState}) lost ${uuid}: its --detach answered 0 and every --list since printed it`);
        }
      }
    }
    this.checkLogs();
  }

  private checked = 0;

  /** Log lines since the last check: no bug lines, VM output cut. */
  private checkLogs(): void {
    const bugs = ['probe crashed', 'probe round failed', 'idle check failed', 'applying the cloud listing failed', 'pool subscriber failed', 'pool event observer failed'];
    for (const line of this.logs.lines.slice(this.checked)) {
      const rec = JSON.parse(line) as Record<string, unknown>;
      const msg = String(rec.msg);
      if (bugs.some((b) => msg.startsWith(b))) this.problems.push(`logged a bug: ${line.slice(0, 500)}`);
      for (const [k, v] of Object.entries(rec)) {
        const values = Array.isArray(v) ? v : [v];
        for (const s of values) {
          if (typeof s !== 'string') continue;
          const pads = s.split(PAD).length - 1;
          if (pads > LOGGED_CHARS) this.problems.push(`log field ${k} of ${JSON.stringify(msg)} shows ${pads} characters of VM output`);
        }
        if (k === 'Lines' && (!Array.isArray(v) || v.length > 10 || v.some((s) => typeof s !== 'string' || s.length > 100))) {
          this.problems.push(`log field Lines of ${JSON.stringify(msg)} is not at most 10 lines of 100 characters`);
        }
      }
      if (line.length > 64 * 1024) this.problems.push(`a log line of ${line.length} characters: ${line.slice(0, 200)}`);
    }
    this.checked = this.logs.lines.length;
  }
}

interface Case {
  steps: Step[];
  replies: Reply[];
  failures: Reply[];
}

async function runCase(c: Case): Promise<void> {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown) => unhandled.push(err);
  process.on('unhandledRejection', onUnhandled);
  const world = new World(c.replies, c.failures);
  const pool = world.cloud.pool;
  const started = new Set<string>();
  try {
    pool.start();
    await world.cloud.tick(0);
    for (const step of c.steps) {
      if (step.t === 'start') started.add(uuidOf(step.ctr));
      await world.run(step);
      world.check(started);
      if (world.problems.length > 0) break;
    }
    if (world.problems.length === 0) {
      // Every command fails from now on: every VM must go.
      world.fail();
      for (let t = 0; t < BLACKOUT; t += PROBE) {
        await world.cloud.tick(PROBE);
        world.check(started);
      }
      for (const [id, fake] of world.cloud.vms) {
        if (fake.destroyed === 0) world.problems.push(`VM ${id} (${pool.detail(id)?.workerState ?? 'untracked'}) failed every probe for ${BLACKOUT} ms and was not destroyed`);
      }
    }
  } finally {
    pool.stop();
    await settle(8);
    process.off('unhandledRejection', onUnhandled);
  }
  for (const err of unhandled) world.problems.push(`unhandled rejection: ${String(err instanceof Error ? err.stack : err).slice(0, 500)}`);
  assert.deepEqual(world.problems, [], `the pool broke a promise about VM output (seed ${SEED}; fast-check prints the shrunk case)`);
}

describe('the worker pool under fuzzed VM output', function () {
  this.timeout(fuzzTimeout(QUICK_RUNS, 60_000));

  it('tracks only well-formed UUIDs, keeps the containers it started, probes every worker, destroys the VMs that stop answering and cuts VM output in its logs', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => runCase(c)),
      { ...fuzzParams(QUICK_RUNS), seed: SEED },
    );
  });
});
