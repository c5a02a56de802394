/**
 * Negative numbers in the cluster config are kept as given, as Arvados keeps
 * them (its consumers test `> 0`, so `MaxInstances: -1` means no limit), with
 * a warning that says what the value means. What each consumer makes of them
 * is tested beside it (scheduler limits and quota, worker create and runner,
 * instance type choice, poll loop, stale locks, estimator).
 */
import assert from 'node:assert/strict';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

/** Loads one cluster whose Containers section is `containers` (YAML lines, indented six spaces) and whose `a` type is `type`. */
function load(containers: string, type = '{VCPUs: 2, RAM: 4GiB, Price: 1}', top = '') {
  const { cluster, warnings } = loadConfigText(`Clusters:\n  zzzzz:\n${top}    Containers:\n${containers}    InstanceTypes:\n      a: ${type}\n`);
  // Only the warnings about negative values: the file lacks what a daemon needs, which is warned about too.
  return { cluster, warnings: warnings.filter((w) => w.includes(': negative (')) };
}

const P = 'Clusters.zzzzz.Containers';

describe('config: negative numbers', () => {
  it('keeps each CloudVMs limit as given, warning what it means', () => {
    const { cluster, warnings } = load(
      '      CloudVMs:\n        MaxInstances: -1\n        MaxConcurrentInstanceCreateOps: -1\n        MaxCloudOpsPerSecond: -2\n        SupervisorFraction: -0.5\n        PollInterval: -10s\n        TimeoutIdle: -1m\n',
    );
    const vms = cluster.Containers.CloudVMs;
    assert.deepEqual(
      [vms.MaxInstances, vms.MaxConcurrentInstanceCreateOps, vms.MaxCloudOpsPerSecond, vms.SupervisorFraction, vms.PollInterval, vms.TimeoutIdle],
      [-1, -1, -2, -0.5, -10_000, -60_000],
    );
    assert.deepEqual(warnings, [
      `${P}.CloudVMs.PollInterval: negative ("-10s"): polls the controller back to back, as 0`,
      `${P}.CloudVMs.MaxCloudOpsPerSecond: negative (-2): no rate limit on cloud calls, as 0`,
      `${P}.CloudVMs.MaxConcurrentInstanceCreateOps: negative (-1): no limit, as 0`,
      `${P}.CloudVMs.MaxInstances: negative (-1): no limit, as 0`,
      `${P}.CloudVMs.SupervisorFraction: negative (-0.5): no cap on workflow runners, as 0`,
      `${P}.CloudVMs.TimeoutIdle: negative ("-1m"): as 0: the worker pool's default, 1m`,
    ]);
  });

  it('keeps each Containers value as given: no local keepstore, price factor as 1, RAM reserve subtracted, no wait for stale locks', () => {
    const { cluster, warnings } = load('      LocalKeepBlobBuffersPerVCPU: -1\n      MaximumPriceFactor: -1\n      ReserveExtraRAM: -256MiB\n      StaleLockTimeout: -1m\n');
    const c = cluster.Containers;
    assert.deepEqual([c.LocalKeepBlobBuffersPerVCPU, c.MaximumPriceFactor, c.ReserveExtraRAM, c.StaleLockTimeout], [-1, -1, -256 * 2 ** 20, -60_000]);
    assert.deepEqual(warnings, [
      `${P}.StaleLockTimeout: negative ("-1m"): does not wait for the workers to be probed before releasing stale locks, as 0`,
      `${P}.ReserveExtraRAM: negative ("-256MiB"): subtracted from the RAM each container is taken to need`,
      `${P}.MaximumPriceFactor: negative (-1): as 1: only the types priced as the cheapest that fits`,
      `${P}.LocalKeepBlobBuffersPerVCPU: negative (-1): no local keepstore on the VMs (and no cluster config sent to crunch-run), as 0`,
    ]);
  });

  it('keeps an instance type price, scratch and GPU figures as given', () => {
    const { cluster, warnings } = load('      {}\n', '{VCPUs: 2, RAM: 4GiB, Price: -0.5, IncludedScratch: 10GiB, AddedScratch: -4GiB, GPU: {DriverVersion: "12.0", DeviceCount: -1, VRAM: -1}}');
    const a = cluster.InstanceTypes.a;
    assert.deepEqual([a.Price, a.IncludedScratch, a.AddedScratch, a.Scratch, a.GPU.DeviceCount, a.GPU.VRAM], [-0.5, 10 * 2 ** 30, -4 * 2 ** 30, 6 * 2 ** 30, -1, -1]);
    assert.deepEqual(warnings, [
      'Clusters.zzzzz.InstanceTypes.a.AddedScratch: negative ("-4GiB"): subtracted from the type\'s scratch space (IncludedScratch + AddedScratch), and no disk is added',
      'Clusters.zzzzz.InstanceTypes.a.Price: negative (-0.5): used as given: this type sorts before every type that costs 0 or more',
      'Clusters.zzzzz.InstanceTypes.a.GPU.DeviceCount: negative (-1): no container fits this type, not even one that asks for no GPU',
      'Clusters.zzzzz.InstanceTypes.a.GPU.VRAM: negative (-1): no container fits this type, not even one that asks for no GPU',
    ]);
  });

  it('keeps the API request limits as given (Arvados then handles no request, and queues none)', () => {
    const { cluster, warnings } = load('      {}\n', undefined, '    API: {MaxConcurrentRequests: -1, MaxQueuedRequests: -1, RequestTimeout: -1s}\n');
    assert.deepEqual([cluster.API.MaxConcurrentRequests, cluster.API.MaxQueuedRequests, cluster.API.RequestTimeout], [-1, -1, -1000]);
    assert.equal(warnings.length, 3);
    assert.match(warnings[2], /^Clusters\.zzzzz\.API\.RequestTimeout: negative \("-1s"\): a request that has to wait for its turn gets 503 at once/);
    assert.match(warnings[0], /^Clusters\.zzzzz\.API\.MaxConcurrentRequests: negative \(-1\): the management API handles no request/);
  });

  it('keeps a negative value of a key the dispatcher does not use, without a warning', () => {
    const { cluster, warnings } = load('      MaxDispatchAttempts: -1\n');
    assert.equal(cluster.Containers.MaxDispatchAttempts, -1);
    assert.deepEqual(warnings, []);
  });
});
