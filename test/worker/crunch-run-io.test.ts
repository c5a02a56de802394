/**
 * What the pool writes on crunch-run's stdin, over the lame cloud whose
 * crunch-run reads it as the real one does: the price history on `--list`,
 * the cluster config on `--detach`, and that neither reaches a log line.
 */
import assert from 'node:assert/strict';
import { PRICES_FILE } from '../../drivers/lame/crunch-run.js';
import type { CrunchRunConfig } from '../../src/arvados/crunch-run.js';
import { Harness, SMALL, waitFor } from './helpers.js';

const PRICES = [
  { startTime: Date.UTC(2026, 0, 1), price: 0.031 },
  { startTime: Date.UTC(2026, 0, 1, 6), price: 0.042 },
];

/** Distinctive secrets a config file holds; none is one the logger knows to scrub. */
const PG_PASSWORD = 'pgPasswordNeverLogged42';
const BLOB_KEY = 'blobSigningKeyNeverLogged0123456789ab';

describe('worker pool: crunch-run stdin', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  it('sends --stdin-prices with the price history, which crunch-run then keeps', async () => {
    h = await Harness.start({ controller: false, priceHistory: () => PRICES });
    h.pool.start();
    const id = await h.createIdle(SMALL);
    const lists = h.sent('--list', id);
    assert.ok(lists.length > 0);
    for (const l of lists) {
      assert.equal(l.command, 'sudo crunch-run --list --stdin-prices');
      assert.equal(l.stdin, '[{"StartTime":"2026-01-01T00:00:00Z","Price":0.031},{"StartTime":"2026-01-01T06:00:00Z","Price":0.042}]');
    }
    const vm = h.cloud.listVMs().find((v) => v.id === id)!;
    assert.equal(vm.files.get(PRICES_FILE)?.toString(), lists[0].stdin, 'crunch-run read the prices');
  });

  it('lists without --stdin-prices on a VM whose crunch-run predates the flag (3.2.0), which then reads the prices all the same', async () => {
    h = await Harness.start({ controller: false, priceHistory: () => PRICES, params: { CrunchRunVersion: '3.2.0' } });
    h.pool.start();
    const id = await h.createIdle(SMALL);
    const lists = h.sent('--list', id);
    assert.equal(lists[0].command, 'sudo crunch-run --list --stdin-prices', 'tried once');
    assert.ok(lists.length >= 2);
    for (const l of lists.slice(1)) {
      assert.equal(l.command, 'sudo crunch-run --list');
      assert.equal(l.stdin, lists[0].stdin);
    }
    const vm = h.cloud.listVMs().find((v) => v.id === id)!;
    assert.equal(vm.files.get(PRICES_FILE)?.toString(), lists[0].stdin, 'crunch-run read the prices');
    assert.equal(h.logs.records().filter((r) => String(r.msg).includes('does not know --stdin-prices')).length, 1, 'said once');
    // Another VM of the same image learns it for itself; this one keeps listing without the flag.
    const before = h.sent('--list', id).length;
    await h.tick(h.cluster.Containers.CloudVMs.ProbeInterval);
    assert.ok(h.sent('--list', id).length > before, 'probed again');
    assert.ok(h.sent('--list', id).slice(1).every((l) => !l.command.includes('--stdin-prices')));
  });

  it('sends plain --list and nothing on stdin without a price history', async () => {
    h = await Harness.start({ controller: false });
    h.pool.start();
    const id = await h.createIdle(SMALL);
    for (const l of h.sent('--list', id)) {
      assert.equal(l.command, 'sudo crunch-run --list');
      assert.equal(l.stdin, '');
    }
  });

  it('carries the cluster config to crunch-run (LocalKeepBlobBuffersPerVCPU > 0), which starts its local keepstore and runs the container, and never logs it', async () => {
    h = await Harness.start({
      rawSection: {
        PostgreSQL: { Connection: { host: 'db', password: PG_PASSWORD } },
        Collections: { BlobSigningKey: BLOB_KEY },
      },
    });
    h.pool.start();
    const id = await h.createIdle(SMALL);
    const c = h.ctl!.addContainer({ state: 'Locked', command: ['sleep', '1'] });
    assert.equal(h.pool.startContainer(id, h.ctl!.get(c.uuid)!), true);
    await h.tick(0);
    const [detach] = h.sent('--detach', id);
    const config = JSON.parse(detach.stdin) as CrunchRunConfig;
    const cluster = config.Cluster as Record<string, any>;
    assert.equal(config.KeepBuffers, SMALL.VCPUs * h.cluster.Containers.LocalKeepBlobBuffersPerVCPU);
    assert.equal(cluster.PostgreSQL.Connection.password, PG_PASSWORD);
    assert.equal(cluster.ManagementToken, h.cluster.ManagementToken);
    assert.equal(cluster.Collections.BlobSigningKey, BLOB_KEY);
    assert.equal(cluster.SystemRootToken, h.cluster.SystemRootToken);
    await waitFor('container Running', () => h.ctl!.get(c.uuid)?.state === 'Running');
    const vm = h.cloud.listVMs().find((v) => v.id === id)!;
    assert.equal(vm.processes.get(c.uuid)?.localKeepstore, true, 'crunch-run would start a local keepstore');
    await h.tick(1000);
    await waitFor('container Complete', () => h.ctl!.get(c.uuid)?.state === 'Complete');

    const logged = h.logs.lines.join('\n');
    assert.ok(h.logs.records().length > 10 && h.logs.records().some((r) => r.level === 'debug'), 'debug lines were written');
    for (const secret of [h.cluster.ManagementToken, PG_PASSWORD, BLOB_KEY]) {
      assert.equal(logged.includes(secret), false, 'a secret from the stdin config reached the log');
    }
  });
});
