/**
 * ResourceTags as best-effort GCE labels (on the VM and its disks), and
 * NetworkTags as `tags.items`: first the pure planning, then through the
 * ResourceTags wrapper, the real client and the local Compute endpoint.
 */
import assert from 'node:assert/strict';
import { buildInstanceBody } from '../../../drivers/gce/body.js';
import type { GceInstanceSet } from '../../../drivers/gce/index.js';
import { MAX_LABELS, planResourceLabels, resourceLabelsFor } from '../../../drivers/gce/labels.js';
import { labelValue } from '../../../drivers/gce/mapping.js';
import { parseGceParams } from '../../../drivers/gce/params.js';
import type { InstanceSet } from '../../../src/cloud/types.js';
import { wrapInstanceSet } from '../../../src/cloud/wrap.js';
import { systemClock } from '../../../src/clock/index.js';
import type { LineCollector } from '../../../src/log.js';
import type { FakeGCE } from '../../fixtures/gce/server.js';
import { createArgs, DISPATCH_KEY, fakeParams, gceCluster, IMAGE, makeDriver, N2, SCRATCH, startFake } from './helpers.js';

const SET_LABEL = new Set(['arvadosinstancesetid']);

describe('gce labels for ResourceTags (pure)', () => {
  it('labels the ResourceTags that fit once the key is lowercased; skips the others, saying why', () => {
    const plan = planResourceLabels(
      { Team: 'genomics', 'cost-center': 'cc_42', Empty: '', Owner: 'Jane Doe', Project: 'Alpha', '9lives': 'x', 'has space': 'x', 'Dotted.Key': 'x', ArvadosBilling: 'x' },
      'Arvados',
      SET_LABEL,
    );
    assert.deepEqual(resourceLabelsFor(plan, { Team: 'genomics', 'cost-center': 'cc_42', Empty: '', Owner: 'Jane Doe' }), { team: 'genomics', 'cost-center': 'cc_42', empty: '' });
    assert.deepEqual(plan.skipped, [
      { key: '9lives', why: 'key does not fit label syntax' },
      { key: 'ArvadosBilling', why: 'has the TagKeyPrefix' },
      { key: 'Dotted.Key', why: 'key does not fit label syntax' },
      { key: 'Owner', why: 'value does not fit label syntax' },
      { key: 'Project', why: 'value does not fit label syntax' },
      { key: 'has space', why: 'key does not fit label syntax' },
    ]);
  });

  it("never takes the InstanceSetID label's key, and labels none of two tags that lowercase alike", () => {
    const plan = planResourceLabels({ arvadosinstancesetid: 'mine', Team: 'a', team: 'b', ok: 'yes' }, 'Arvados', SET_LABEL);
    assert.deepEqual(plan.entries.map((e) => e.labelKey), ['ok']);
    assert.deepEqual(plan.skipped, [
      { key: 'Team', why: 'another ResourceTag is also label team' },
      { key: 'arvadosinstancesetid', why: "label key is the driver's own" },
      { key: 'team', why: 'another ResourceTag is also label team' },
    ]);
    // Even given the key in its tags, the body keeps the InstanceSetID label's value.
    const { params } = parseGceParams({ Project: 'p', Zone: 'us-central1-a' });
    const tags = { ArvadosInstanceSetID: 'set-1', arvadosinstancesetid: 'mine' };
    const body = buildInstanceBody({ params, zone: 'us-central1-a', name: 'n', type: N2, imageId: IMAGE, tags, initCommand: '', publicKey: '', setTagKey: 'ArvadosInstanceSetID', resourceLabels: { arvadosinstancesetid: 'mine' } });
    assert.equal(body.labels?.arvadosinstancesetid, 'set-1');
  });

  it('keeps within 64 labels, the InstanceSetID one included', () => {
    const many = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v']));
    const plan = planResourceLabels(many, 'Arvados', SET_LABEL);
    assert.equal(plan.entries.length, MAX_LABELS - 1);
    assert.deepEqual(plan.skipped.map((s) => s.key), ['k63', 'k64', 'k65', 'k66', 'k67', 'k68', 'k69']);
  });

  it('labels a ResourceTag only while the create tags carry its configured value', () => {
    const plan = planResourceLabels({ team: 'genomics' }, 'Arvados', SET_LABEL);
    assert.deepEqual(resourceLabelsFor(plan, { team: 'genomics' }), { team: 'genomics' });
    assert.deepEqual(resourceLabelsFor(plan, { team: 'other' }), {});
    assert.deepEqual(resourceLabelsFor(plan, {}), {});
  });

  it('the body has network tags only when NetworkTags are set', () => {
    const input = { zone: 'us-central1-a', name: 'n', type: N2, imageId: IMAGE, tags: {}, initCommand: '', publicKey: '', setTagKey: 'ArvadosInstanceSetID' };
    assert.equal(buildInstanceBody({ ...input, params: parseGceParams({ Project: 'p', Zone: 'us-central1-a' }).params }).tags, undefined);
    const { params } = parseGceParams({ Project: 'p', Zone: 'us-central1-a', NetworkTags: 'arvados-worker, allow-ssh' });
    assert.deepEqual(buildInstanceBody({ ...input, params }).tags, { items: ['arvados-worker', 'allow-ssh'] });
  });
});

describe('gce driver: labels and network tags (local Compute endpoint)', function () {
  this.timeout(20_000);
  const RESOURCE_TAGS = { Team: 'genomics', 'cost-center': 'cc-42', Owner: 'Jane Doe', ArvadosNote: 'x' };
  let fake: FakeGCE;
  let driver: GceInstanceSet;
  let logs: LineCollector;
  let setId: string;
  let wrapped: InstanceSet;

  async function setUp(params: Record<string, unknown> = {}): Promise<void> {
    const cluster = gceCluster();
    cluster.Containers.CloudVMs.ResourceTags = RESOURCE_TAGS;
    const h = await makeDriver(fake, { cluster, params: fakeParams(fake, params) });
    driver = h.driver;
    logs = h.logs;
    setId = h.ctx.instanceSetId;
    // ResourceTags reach the driver the way they do in the daemon: merged into the create's tags by the wrapper.
    wrapped = wrapInstanceSet(driver, { clock: systemClock, logger: h.ctx.logger, maxCloudOpsPerSecond: 0, resourceTags: RESOURCE_TAGS });
  }

  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    driver.stop();
    await fake.stop();
  });

  const create = (type = N2) => {
    const { tags, init } = createArgs(setId, type.Name);
    return wrapped.create(type, IMAGE, tags, init, DISPATCH_KEY.public);
  };
  const live = () => fake.instances().filter((i) => !i.deleted);

  it('labels the VM and its disks with the fitting ResourceTags beside the InstanceSetID label; metadata keeps them all', async () => {
    await setUp();
    const inst = await create(SCRATCH);
    const vm = live()[0];
    const labels = { team: 'genomics', 'cost-center': 'cc-42', arvadosinstancesetid: labelValue(setId) };
    assert.deepEqual(vm.labels, labels);
    assert.deepEqual(vm.disks.map((d) => d.labels), [labels, labels], 'boot and scratch disks');
    assert.equal(JSON.parse(vm.metadata['arvados-tags']).Owner, 'Jane Doe');
    assert.equal(inst.tags.Owner, 'Jane Doe');
    // Listing (by the InstanceSetID label) still finds it, with every tag.
    const [listed] = await wrapped.instances({ ArvadosInstanceSetID: setId });
    assert.equal(listed.id, inst.id);
    assert.equal(listed.tags.Team, 'genomics');
  });

  it('says once, at debug and by key only, which ResourceTags are not labels', async () => {
    await setUp();
    await create();
    await create();
    const lines = logs.lines.filter((l) => l.includes('ResourceTags are not set as GCE labels'));
    assert.equal(lines.length, 1);
    assert.match(lines[0], /"level":"debug"/);
    assert.match(lines[0], /ArvadosNote \(has the TagKeyPrefix\)/);
    assert.match(lines[0], /Owner \(value does not fit label syntax\)/);
    assert.doesNotMatch(lines[0], /Jane Doe/);
  });

  it('sends NetworkTags as tags.items on every VM; none without them', async () => {
    await setUp({ NetworkTags: ['arvados-worker', 'allow-ssh-from-dispatcher'] });
    await create();
    assert.deepEqual(live()[0].networkTags, ['arvados-worker', 'allow-ssh-from-dispatcher']);
    driver.stop();
    await setUp();
    await create();
    assert.deepEqual(live()[1].networkTags, []);
    const last = fake.calls().filter((c) => c.kind === 'insert').pop();
    assert.equal((last?.body as { tags?: unknown }).tags, undefined);
  });
});
