/**
 * Locality in the simulator: workloads' image and input fields reach the
 * controller records, and on a small trace the feature on sends a container
 * to the idle VM that has its image, where off it takes the first idle VM
 * and pulls the image again.
 */
import assert from 'node:assert/strict';
import { defaultSettings } from '../../src/config/settings.js';
import { containerSeed } from '../../src/sim/player.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simPDH } from '../../src/sim/workload-locality.js';
import { simConfig } from './helpers.js';

const GiB = 1024 ** 3;

const TRACE = {
  name: 'locality-test',
  seed: 3,
  containers: [
    { id: 'a1', at: 0, vcpus: 2, ram: '2GiB', runtime: '2m', image: 'img-a', imageSize: '4GiB' },
    { id: 'b1', at: 0, vcpus: 2, ram: '2GiB', runtime: '2m', image: 'img-b', imageSize: '4GiB', inputs: [{ pdh: 'ref', size: '1GiB' }] },
    { id: 'b2', at: '230s', vcpus: 2, ram: '2GiB', runtime: '1m', image: 'img-b', imageSize: '4GiB', inputs: [{ pdh: 'ref', size: '1GiB' }] },
  ],
};

describe('simulator: locality', function () {
  this.timeout(30_000);

  it('parses image, imageSize and inputs of a trace, and gives the records container_image and collection mounts', () => {
    const w = parseWorkload(TRACE);
    const b1 = w.containers.find((c) => c.id === 'b1')!;
    assert.deepEqual(b1.image, { id: 'img-b', bytes: 4 * GiB });
    assert.deepEqual(b1.inputs, [{ pdh: 'ref', bytes: GiB }]);
    const rec = containerSeed(simConfig(), b1);
    assert.equal(rec.container_image, simPDH('img-b', 4 * GiB));
    assert.deepEqual(rec.mounts, { '/keep/input0': { kind: 'collection', portable_data_hash: simPDH('ref', GiB) } });
    assert.throws(() => parseWorkload({ containers: [{ at: 0, vcpus: 1, ram: '1GiB', runtime: '1m', imageSize: '1GiB' }] }), /imageSize: needs an "image"/);
    assert.throws(() => parseWorkload({ containers: [{ at: 0, vcpus: 1, ram: '1GiB', runtime: '1m', inputs: [{ pdh: 'x' }] }] }), /inputs\[0\]\.size: required/);
  });

  it('generators draw images and inputs from choices, and a child group without an image takes its runner\'s', () => {
    const w = parseWorkload({
      name: 'g',
      seed: 5,
      groups: [
        {
          count: 20,
          arrival: { burst: {} },
          vcpus: 1,
          ram: '1GiB',
          image: { choice: [[{ id: 'x', size: '2GiB' }, 1], [{ id: 'y', size: '6GiB' }, 1]] },
          supervisor: { children: [{ count: 2, arrival: { burst: {} }, ram: '1GiB', runtime: '1m', inputs: [{ pdh: 'shared', size: '3GiB' }] }] },
        },
      ],
    });
    const images = new Set(w.containers.map((c) => c.image?.id));
    assert.deepEqual([...images].sort(), ['x', 'y']);
    for (const runner of w.containers) {
      for (const child of runner.children ?? []) {
        assert.deepEqual(child.image, runner.image);
        assert.deepEqual(child.inputs, [{ pdh: 'shared', bytes: 3 * GiB }]);
      }
    }
  });

  it('with Locality on, the container goes to the idle VM that has its image and inputs: one pull and one cold read fewer', async () => {
    const cluster = simConfig({ MinBootTime: '30s', MaxBootTime: '30s', ImagePullTimePerGiB: '10s', ColdInputTimePerGiB: '10s' });
    const workload = parseWorkload(TRACE);
    const offRun = await runSimulation({ cluster, workload });
    const settings = defaultSettings();
    settings.Locality.Enable = true;
    const onRun = await runSimulation({ cluster, workload, settings });
    const [off, on] = [buildReport(offRun), buildReport(onRun)];
    const waitOfB2 = (r: typeof offRun): number => {
      const b2 = r.containers.find((c) => c.id === 'b2')!;
      return b2.runningAt! - b2.submittedAt!;
    };
    assert.equal(off.containers.complete, 3);
    assert.equal(on.containers.complete, 3);
    assert.deepEqual(off.warmUp, { imagePulls: 3, imagePullMs: 120_000, coldInputs: 2, coldInputMs: 20_000 });
    assert.deepEqual(on.warmUp, { imagePulls: 2, imagePullMs: 80_000, coldInputs: 1, coldInputMs: 10_000 });
    // Off, b2 waits for its image to be pulled (40 s); on, it starts at once.
    assert.ok(waitOfB2(onRun) + 30_000 < waitOfB2(offRun), `${waitOfB2(onRun)} vs ${waitOfB2(offRun)}`);
  });
});
