/**
 * How the dispatcher reaches its VMs (src/vm-access.ts): the SSH handshake
 * deadline, the default command deadline of a VM's executor, and which
 * DispatchPrivateKey settings a start accepts.
 */
import assert from 'node:assert/strict';
import { sshConnectTimeoutMs } from '../src/vm-access.js';
import { makeCluster } from './drivers/lame/helpers.js';

describe('vm-access', function () {
  this.timeout(10_000);

  it('the SSH handshake deadline is 3 x ProbeInterval, but at least 5 s and at most 60 s', () => {
    const vms = makeCluster().Containers.CloudVMs;
    for (const [probe, want] of [
      [1_000, 5_000],
      [15_000, 45_000],
      [600_000, 60_000],
    ]) {
      vms.ProbeInterval = probe;
      assert.equal(sshConnectTimeoutMs(vms), want, `ProbeInterval ${probe}`);
    }
  });
});
