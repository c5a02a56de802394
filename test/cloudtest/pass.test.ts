/**
 * One cloudtest pass against a scripted cloud (object literals, a manual
 * clock): each step fails when its check fails, and whatever fails, the
 * instance the pass made is destroyed, or the run says it could not be.
 */
import assert from 'node:assert/strict';
import { StepFailedError, StepReporter } from '../../src/cloudtest/steps.js';
import { runCloudTestPass } from '../../src/cloudtest/tester.js';
import type { Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import { ManualClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import type { ExecuteResult, Executor } from '../../src/ssh/executor.js';

const SET = 'cloudtest-unit';
const SET_TAG = 'ArvadosInstanceSetID';
const SECRET_TAG = 'ArvadosInstanceSecret';

function testCluster(): Cluster {
  return loadConfigText(`
Clusters:
  zzzzz:
    Containers:
      CloudVMs:
        SyncInterval: 1s
        ProbeInterval: 1s
        TimeoutBooting: 20s
        TimeoutShutdown: 10s
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
        ProviderType: t3.medium
`).cluster;
}

const ok = (stdout = ''): ExecuteResult => ({ stdout: Buffer.from(stdout), stderr: Buffer.alloc(0), exitCode: 0 });
const failed = (stderr: string): ExecuteResult => ({ stdout: Buffer.alloc(0), stderr: Buffer.from(stderr), exitCode: 1 });

interface FakeVM {
  id: string;
  tags: InstanceTags;
  address: string;
  /** Listings still to come before a destroyed VM is gone. */
  goneAfter?: number;
  destroyCalls: number;
}

/** A cloud whose every behaviour a test can set, and an executor that answers as `probe` says. */
class ScriptedCloud implements InstanceSet {
  readonly vms = new Map<string, FakeVM>();
  private next = 1;
  /** Thrown by create; with `createAnyway` the VM is made first, as a create that times out after the cloud acted. */
  createError?: Error;
  createAnyway = false;
  /** The VM is never listed. */
  hidden = false;
  /** Listings still to come that show no VM at all (a listing lagging behind the creates). */
  lagging = 0;
  /** How many listings were asked for. */
  listings = 0;
  /** An error for every listing. */
  listError?: Error;
  /** Changes the tags a listing shows. */
  listedTags?: (tags: InstanceTags) => InstanceTags;
  /** destroy() throws this, forever (or `destroyErrorTimes` times). */
  destroyError?: Error;
  /** How many destroy calls throw `destroyError`; undefined: every one. */
  destroyErrorTimes?: number;
  /** Listings a destroyed VM still shows up in; Infinity: it never goes. */
  lingers = 0;
  /** The address listings show (create returns none). */
  address = '10.0.0.1';
  /** What the executor answers, given the address it is pointed at. */
  probe: (target: string, command: string) => ExecuteResult = () => ok();
  readonly executed: Array<[target: string, command: string]> = [];
  /** What happened to the executor and the VMs, in order: 'close', 'destroy vm-1'. */
  readonly events: string[] = [];
  readonly targets: string[] = [];
  /** The tags of every create, in order. */
  readonly created: InstanceTags[] = [];

  async create(_type: unknown, _image: string, tags: InstanceTags): Promise<Instance> {
    const vm: FakeVM = { id: `vm-${this.next++}`, tags: { ...tags }, address: '', destroyCalls: 0 };
    this.created.push({ ...tags });
    if (this.createError) {
      if (this.createAnyway) this.vms.set(vm.id, vm);
      throw this.createError;
    }
    this.vms.set(vm.id, vm);
    return this.instance(vm, '');
  }

  async instances(filter: InstanceTags): Promise<Instance[]> {
    this.listings++;
    if (this.listError) throw this.listError;
    if (this.lagging > 0) {
      this.lagging--;
      return [];
    }
    const out: Instance[] = [];
    for (const vm of [...this.vms.values()]) {
      if (vm.goneAfter !== undefined && vm.goneAfter-- <= 0) {
        this.vms.delete(vm.id);
        continue;
      }
      if (this.hidden) continue;
      if (Object.entries(filter).some(([k, v]) => vm.tags[k] !== v)) continue;
      out.push(this.instance(vm, this.address));
    }
    return out;
  }

  stop(): void {}

  executorFor(instance: Instance): Executor {
    let target = instance.address;
    this.targets.push(target);
    return {
      execute: async (command: string) => {
        this.executed.push([target, command]);
        return this.probe(target, command);
      },
      setTarget: (address: string) => {
        target = address;
        this.targets.push(address);
      },
      close: () => this.events.push('close'),
    };
  }

  private instance(vm: FakeVM, address: string): Instance {
    return {
      id: vm.id,
      providerType: 't3.medium',
      tags: this.listedTags ? this.listedTags({ ...vm.tags }) : { ...vm.tags },
      address,
      remoteUser: 'crunch',
      setTags: async () => undefined,
      destroy: async () => {
        this.events.push(`destroy ${vm.id}`);
        vm.destroyCalls++;
        if (this.destroyError && (this.destroyErrorTimes === undefined || this.destroyErrorTimes-- > 0)) throw this.destroyError;
        vm.goneAfter ??= this.lingers;
      },
      verifyHostKey: async () => undefined,
    };
  }
}

class Report {
  text = '';
  write(s: string): boolean {
    this.text += s;
    return true;
  }
  steps(): string[] {
    return this.text.split('\n').filter((l) => l.startsWith('step '));
  }
}

/**
 * Runs one pass on a manual clock, a second of simulated time at a turn, for
 * at most `limitMs` of it; resolves with what it threw (undefined: passed).
 */
async function runPass(
  cloud: ScriptedCloud,
  opts: { destroyExisting?: boolean; command?: string; limitMs?: number; signal?: AbortSignal } = {},
): Promise<{ error: unknown; report: Report; clock: ManualClock }> {
  const clock = new ManualClock();
  const report = new Report();
  const cluster = testCluster();
  let settled = false;
  let error: unknown;
  const pass = runCloudTestPass({
    cluster,
    instanceSet: cloud,
    instanceSetId: SET,
    instanceType: cluster.InstanceTypes.small!,
    imageId: 'img-1',
    privateKey: '',
    publicKey: '',
    destroyExisting: opts.destroyExisting ?? false,
    command: opts.command,
    report: new StepReporter(report, clock),
    clock,
    logger: silentLogger(),
    signal: opts.signal,
  }).then(
    () => (settled = true),
    (err: unknown) => {
      settled = true;
      error = err;
    },
  );
  const end = clock.now() + (opts.limitMs ?? 600_000);
  while (!settled && clock.now() < end) await clock.advance(1_000);
  assert.ok(settled, `the pass did not end within ${opts.limitMs ?? 600_000} ms of clock time:\n${report.text}`);
  await pass;
  return { error, report, clock };
}

/** The step a pass failed in, and its reason. */
function failure(error: unknown): { step: number; what: string; reason: string } {
  assert.ok(error instanceof StepFailedError, `expected a failed step, got ${String(error)}`);
  return { step: error.step, what: error.what, reason: error.reason };
}

describe('cloudtest pass (scripted cloud, manual clock)', function () {
  this.timeout(20_000);

  it('passes against a cloud that does everything right (the probe retried until the VM is up), and leaves nothing behind', async () => {
    const cloud = new ScriptedCloud();
    let probes = 0;
    cloud.probe = () => (++probes < 3 ? failed('starting') : ok());
    const { error, report } = await runPass(cloud);
    assert.equal(error, undefined, report.text);
    assert.equal(report.steps().length, 6, report.text);
    assert.equal(probes, 3);
    assert.equal(cloud.vms.size, 0);
    assert.equal(cloud.created.length, 1);
    assert.equal(cloud.created[0]![SET_TAG], SET);
    assert.match(cloud.created[0]![SECRET_TAG]!, /^[0-9a-f]{40}$/);
  });

  it('a create that fails after the cloud made the VM: the VM is found by its secret and destroyed, and the run fails naming the create', async () => {
    const cloud = new ScriptedCloud();
    cloud.createError = new Error('RequestTimeout');
    cloud.createAnyway = true;
    const { error, report } = await runPass(cloud);
    assert.deepEqual(failure(error), { step: 2, what: 'create a small instance (provider type t3.medium, image img-1)', reason: 'RequestTimeout' });
    const steps = report.steps();
    assert.match(steps[2]!, /^step 3: look for an instance the failed create may have made anyway \(until TimeoutBooting\) \.\.\. ok \(.*\): found vm-1$/);
    assert.match(steps[3]!, /^step 4: destroy instance vm-1 and wait until it is gone from the list \.\.\. ok/);
    assert.equal(cloud.vms.size, 0);
  });

  it('a VM from a failed create that the listing shows only later is still found and destroyed, as the reference looks until TimeoutBooting', async () => {
    const cloud = new ScriptedCloud();
    cloud.createError = new Error('RequestTimeout');
    cloud.createAnyway = true;
    cloud.lagging = 4;
    const { error, report } = await runPass(cloud);
    assert.equal(failure(error).step, 2, report.text);
    assert.match(report.steps()[2]!, /found vm-1$/, report.text);
    assert.equal(cloud.vms.size, 0, 'nothing left running');
    assert.equal(cloud.listings >= 6, true, `listed again until it showed: ${cloud.listings} listings`);
  });

  it('a failed create that made nothing is looked for until TimeoutBooting after the create began, then the run fails naming the create', async () => {
    const cloud = new ScriptedCloud();
    cloud.createError = new Error('InvalidAMIID.NotFound');
    const { error, report, clock } = await runPass(cloud);
    assert.deepEqual(failure(error), { step: 2, what: 'create a small instance (provider type t3.medium, image img-1)', reason: 'InvalidAMIID.NotFound' });
    assert.match(report.steps()[2]!, /\.\.\. ok \(2\d\.\ds\): none$/, report.text);
    assert.ok(clock.now() >= 20_000, `looked for TimeoutBooting (20 s): ended at ${clock.now()} ms`);
    assert.ok(cloud.listings >= 10, `one listing a SyncInterval: ${cloud.listings}`);
  });

  it('a failed create, and a listing that fails until TimeoutBooting: the look fails too, naming the listing error, so the operator checks by hand', async () => {
    const cloud = new ScriptedCloud();
    cloud.createError = new Error('RequestTimeout');
    const create = cloud.create.bind(cloud);
    cloud.create = (...args) => {
      // Listings work before the create (step 1), fail after it.
      cloud.listError = new Error('RequestLimitExceeded');
      return create(...args);
    };
    const { error, report } = await runPass(cloud);
    assert.equal(failure(error).step, 2, 'the run fails naming the create, its first failure');
    assert.match(report.steps()[2]!, /^step 3: look for an instance the failed create may have made anyway \(until TimeoutBooting\) \.\.\. FAILED \(2\d\.\ds\): RequestLimitExceeded$/, report.text);
  });

  it('a VM that cannot be destroyed fails a run whose steps all passed, telling the operator to destroy it by hand', async () => {
    const cloud = new ScriptedCloud();
    cloud.destroyError = new Error('UnauthorizedOperation');
    const { error, report } = await runPass(cloud);
    const f = failure(error);
    assert.equal(f.what, 'destroy instance vm-1 and wait until it is gone from the list');
    assert.equal(f.reason, 'instance vm-1 still listed 60.0s after destroy: destroy it by hand (last error: UnauthorizedOperation)');
    assert.match(report.steps().at(-1)!, /^step 6: destroy instance vm-1 .* FAILED \(60\.\ds\)/);
  });

  it('when a step fails and the destroy fails too, the run fails with the step that failed first', async () => {
    const cloud = new ScriptedCloud();
    cloud.probe = () => failed('degraded');
    cloud.destroyError = new Error('UnauthorizedOperation');
    const { error, report } = await runPass(cloud);
    const f = failure(error);
    assert.equal(f.step, 5);
    assert.match(f.reason, /^the boot probe did not succeed within TimeoutBooting \(20\.0s\) after \d+ attempts; last: exit code 1: degraded$/);
    // The destroy still ran, and failed, and said so.
    assert.match(report.steps().at(-1)!, /^step 6: destroy instance vm-1 .* FAILED .*destroy it by hand/);
  });

  it('a VM the cloud never lists fails the listing step after TimeoutBooting, with the last list error, and is still destroyed', async () => {
    const cloud = new ScriptedCloud();
    cloud.hidden = true;
    const listed = await runPass(cloud);
    assert.deepEqual(failure(listed.error), {
      step: 3,
      what: 'wait for the instance to appear in the instance list (TimeoutBooting)',
      reason: 'instance vm-1 not listed within TimeoutBooting (20.0s)',
    });
    assert.match(listed.report.steps()[3]!, /^step 4: destroy instance vm-1 and wait until it is gone from the list \.\.\. ok/);
    assert.equal(cloud.vms.size, 0);

    const erring = new ScriptedCloud();
    const first = erring.instances.bind(erring);
    let calls = 0;
    // The first listing (no instances yet) works; every later one fails.
    erring.instances = async (filter) => (calls++ === 0 ? first(filter) : Promise.reject(new Error('Throttling: rate exceeded')));
    const { error } = await runPass(erring, { limitMs: 120_000 });
    assert.match(failure(error).reason, /^instance vm-1 not listed within TimeoutBooting \(20\.0s\) \(last list error: Throttling: rate exceeded\)$/);
  });

  it('a listed VM whose tags differ fails the tag step, naming each key, without printing the instance secret', async () => {
    const cloud = new ScriptedCloud();
    let secret = '';
    cloud.listedTags = (tags) => {
      secret = tags[SECRET_TAG]!;
      const { ArvadosIdleBehavior: _dropped, ...rest } = tags;
      return { ...rest, ArvadosInstanceType: 'large', [SECRET_TAG]: 'f'.repeat(40) };
    };
    const { error, report } = await runPass(cloud);
    const f = failure(error);
    assert.equal(f.what, 'check the instance tags');
    assert.equal(
      f.reason,
      'the listed instance has wrong tags: ArvadosInstanceType: expected "small", got "large"; ArvadosIdleBehavior: expected "run", got missing; ArvadosInstanceSecret: a different value',
    );
    assert.ok(secret.length === 40 && !report.text.includes(secret) && !report.text.includes('f'.repeat(40)));
    assert.equal(cloud.vms.size, 0, 'destroyed');
  });

  it('the boot probe follows the address the listings give: the executor is re-pointed when it changes', async () => {
    const cloud = new ScriptedCloud();
    // Boots on 10.0.0.1 first, then the cloud moves it (an elastic address): only the new address answers.
    cloud.probe = (target) => (target === '10.0.0.2' ? ok() : failed('connection refused'));
    let listings = 0;
    const list = cloud.instances.bind(cloud);
    cloud.instances = async (filter) => {
      if (++listings === 4) cloud.address = '10.0.0.2';
      return list(filter);
    };
    const { error, report } = await runPass(cloud);
    assert.equal(error, undefined, report.text);
    assert.deepEqual(cloud.targets, ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(cloud.executed.at(-1), ['10.0.0.2', 'systemctl is-system-running']);
  });

  it('--destroy-existing destroys each instance once, however many listings it takes to go, and fails naming one that never goes', async () => {
    const cloud = new ScriptedCloud();
    await cloud.create(undefined, 'img', { [SET_TAG]: SET });
    await cloud.create(undefined, 'img', { [SET_TAG]: SET });
    const other = await cloud.create(undefined, 'img', { [SET_TAG]: 'a-dispatcher' });
    cloud.lingers = 3;
    const { error, report } = await runPass(cloud, { destroyExisting: true });
    assert.equal(error, undefined, report.text);
    assert.match(report.steps()[0]!, /^step 1: destroy any instances with InstanceSetID cloudtest-unit and wait until they are gone \.\.\. ok \(.*\): destroyed 2$/);
    assert.deepEqual([...cloud.vms.keys()], [other.id]);

    const stuck = new ScriptedCloud();
    await stuck.create(undefined, 'img', { [SET_TAG]: SET });
    stuck.lingers = Infinity;
    const r = await runPass(stuck, { destroyExisting: true });
    assert.deepEqual(failure(r.error), {
      step: 1,
      what: 'destroy any instances with InstanceSetID cloudtest-unit and wait until they are gone',
      reason: 'still listed after 60.0s: vm-1',
    });
    assert.equal(stuck.vms.get('vm-1')?.destroyCalls, 1);
    assert.equal(r.report.steps().length, 1, 'no instance created');
  });

  it('--destroy-existing tries again, at the next listing, to destroy an instance whose destroy failed, and names the last error of one it never could', async () => {
    const cloud = new ScriptedCloud();
    const existing = await cloud.create(undefined, 'img', { [SET_TAG]: SET });
    cloud.destroyError = new Error('RequestLimitExceeded');
    cloud.destroyErrorTimes = 2;
    const { error, report } = await runPass(cloud, { destroyExisting: true });
    assert.equal(error, undefined, report.text);
    assert.match(report.steps()[0]!, /^step 1: destroy any instances with InstanceSetID cloudtest-unit and wait until they are gone \.\.\. ok \(.*\): destroyed 1$/);
    assert.equal(cloud.events.filter((e) => e === `destroy ${existing.id}`).length, 3, 'two failed destroys, then one that worked');
    assert.equal(cloud.vms.size, 0, 'the existing instance and the test instance are gone');

    const refused = new ScriptedCloud();
    await refused.create(undefined, 'img', { [SET_TAG]: SET });
    refused.destroyError = new Error('UnauthorizedOperation');
    const r = await runPass(refused, { destroyExisting: true });
    assert.deepEqual(failure(r.error), {
      step: 1,
      what: 'destroy any instances with InstanceSetID cloudtest-unit and wait until they are gone',
      reason: 'still listed after 60.0s: vm-1 (last error: UnauthorizedOperation)',
    });
    assert.equal(r.report.steps().length, 1, 'no instance created');
  });

  it('closes its SSH connection to the VM before destroying it (a connection to a VM that vanishes could hold the command open)', async () => {
    const cloud = new ScriptedCloud();
    const { error, report } = await runPass(cloud, { command: 'uname -a' });
    assert.equal(error, undefined, report.text);
    assert.deepEqual(cloud.events, ['close', 'destroy vm-1']);
  });
});
