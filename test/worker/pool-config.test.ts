/**
 * The pool's settings: a duration of 0 or less takes the pool's default,
 * as the reference's pool does, so a zero in config.yml means "unset".
 */
import assert from 'node:assert/strict';
import { compilePoolConfig, type PoolConfig, type POOL_DURATION_DEFAULTS } from '../../src/worker/pool-config.js';
import { makeCluster } from '../drivers/lame/helpers.js';
import { sshConnectTimeoutMs } from '../../src/vm-access.js';
import { Harness } from './helpers.js';

/** Each setting: its PoolConfig field and the reference pool's default for it (ms). */
const SETTINGS: [keyof typeof POOL_DURATION_DEFAULTS, keyof PoolConfig, number][] = [
  ['ProbeInterval', 'probeInterval', 10_000],
  ['SyncInterval', 'syncInterval', 60_000],
  ['TimeoutIdle', 'timeoutIdle', 60_000],
  ['TimeoutBooting', 'timeoutBooting', 10 * 60_000],
  ['TimeoutProbe', 'timeoutProbe', 10 * 60_000],
  ['TimeoutShutdown', 'timeoutShutdown', 10_000],
  ['TimeoutTERM', 'timeoutTERM', 2 * 60_000],
  ['TimeoutSignal', 'timeoutSignal', 5_000],
  ['TimeoutStaleRunLock', 'timeoutStaleRunLock', 5_000],
];

describe('worker pool settings', () => {
  for (const [key, field, referenceDefault] of SETTINGS) {
    it(`a zero or negative ${key} takes the default (${referenceDefault} ms); a positive one is kept`, () => {
      for (const [value, expected] of [
        [0, referenceDefault],
        [-1000, referenceDefault],
        [1234, 1234],
      ]) {
        const cluster = makeCluster();
        cluster.Containers.CloudVMs[key] = value;
        assert.equal(compilePoolConfig(cluster, undefined)[field], expected, `${key}: ${value}`);
      }
    });
  }

  it('the command deadlines follow the defaulted ProbeInterval and TimeoutBooting', () => {
    const cluster = makeCluster();
    Object.assign(cluster.Containers.CloudVMs, { ProbeInterval: 0, TimeoutBooting: 0 });
    const cfg = compilePoolConfig(cluster, undefined);
    assert.equal(cfg.commandTimeout, 60_000);
    assert.equal(cfg.installTimeout, 600_000);
  });

  it('the SSH connect timeout follows the defaulted ProbeInterval (3 x 10 s for 0 or less)', () => {
    const cluster = makeCluster();
    for (const value of [0, -10_000]) {
      cluster.Containers.CloudVMs.ProbeInterval = value;
      assert.equal(sshConnectTimeoutMs(cluster.Containers.CloudVMs), 30_000, `ProbeInterval ${value}`);
    }
  });

  it('keeps a MaxProbesPerSecond of 1 or more, and takes the default (10) for less', () => {
    for (const [value, expected] of [
      [1, 1],
      [3, 3],
      [0, 10],
      [0.5, 10],
    ]) {
      const cluster = makeCluster();
      cluster.Containers.CloudVMs.MaxProbesPerSecond = value;
      assert.equal(compilePoolConfig(cluster, undefined).maxProbesPerSecond, expected, `MaxProbesPerSecond: ${value}`);
    }
  });

  it('a short TimeoutBooting still gives the runner install a minute', () => {
    const cluster = makeCluster();
    cluster.Containers.CloudVMs.TimeoutBooting = 30_000;
    assert.equal(compilePoolConfig(cluster, undefined).installTimeout, 60_000);
    cluster.Containers.CloudVMs.TimeoutBooting = 900_000;
    assert.equal(compilePoolConfig(cluster, undefined).installTimeout, 900_000);
  });

  it('a blank BootProbeCommand runs true, as an empty one does', () => {
    const cluster = makeCluster();
    for (const value of ['', '  \n']) {
      cluster.Containers.CloudVMs.BootProbeCommand = value;
      assert.equal(compilePoolConfig(cluster, undefined).bootProbeCommand, 'true', JSON.stringify(value));
    }
  });

  describe('in a running pool', function () {
    this.timeout(20_000);
    let h: Harness;
    afterEach(async () => {
      await h?.stop();
    });

    it('a zero TimeoutIdle takes the default: an idle VM stays a minute, not one probe round', async () => {
      h = await Harness.start({ controller: false, cloudVMs: { TimeoutIdle: 0 } });
      h.pool.start();
      await h.tick(0);
      const id = await h.createIdle();
      await h.tick(h.cluster.Containers.CloudVMs.ProbeInterval * 3);
      assert.equal(h.pool.detail(id)?.workerState, 'idle');
      await h.tick(60_000);
      const state = h.pool.detail(id)?.workerState ?? 'gone';
      assert.ok(state === 'shutdown' || state === 'gone', `shut down after the default minute, not ${state}`);
    });

    it('a zero SyncInterval takes the default: one listing a minute, not a tight loop', async () => {
      h = await Harness.start({ controller: false, cloudVMs: { SyncInterval: 0 } });
      h.pool.start();
      await h.tick(0);
      await h.tick(59_000);
      assert.equal(h.cloud.callCounts().instances, 1);
      await h.tick(1_000);
      assert.equal(h.cloud.callCounts().instances, 2);
    });
  });
});
