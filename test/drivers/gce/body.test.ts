/**
 * The instances.insert body, built without a Compute endpoint: how each
 * parameter and instance type field shows up in it.
 */
import assert from 'node:assert/strict';
import { type BodyInput, buildInstanceBody } from '../../../drivers/gce/body.js';
import { labelFilter } from '../../../drivers/gce/mapping.js';
import { parseGceParams } from '../../../drivers/gce/params.js';
import { IMAGE, N2 } from './helpers.js';

const ZONE = 'europe-west4-b';

/** The body for `type` (N2 by default) with DriverParameters `raw` over a project and zone. */
function body(raw: Record<string, unknown> = {}, input: Partial<BodyInput> = {}): ReturnType<typeof buildInstanceBody> {
  const { params } = parseGceParams({ Project: 'p', Zone: ZONE, ...raw });
  return buildInstanceBody({
    params,
    zone: ZONE,
    name: 'arvados-0123456789abcdef',
    type: N2,
    imageId: IMAGE,
    tags: { ArvadosInstanceSetID: 'set-1' },
    initCommand: 'true',
    publicKey: '',
    setTagKey: 'ArvadosInstanceSetID',
    ...input,
  });
}

describe('gce insert body', () => {
  it('a Subnetwork given by name is in the region of the zone the VM goes to; a path is sent as written', () => {
    assert.equal(body({ Subnetwork: 'workers' }).networkInterfaces![0].subnetwork, 'regions/europe-west4/subnetworks/workers');
    assert.equal(body({ Subnetwork: 'projects/host/regions/europe-west4/subnetworks/shared' }).networkInterfaces![0].subnetwork, 'projects/host/regions/europe-west4/subnetworks/shared');
  });

  it('the InstanceSetID label holds a value that fits label syntax, the very one listing filters on, whatever the ID looks like', () => {
    for (const id of ['zzzzz-abc_12', 'Set.One', 'x'.repeat(70)]) {
      const labels = body({}, { tags: { ArvadosInstanceSetID: id } }).labels!;
      assert.deepEqual(Object.keys(labels), ['arvadosinstancesetid']);
      assert.match(labels.arvadosinstancesetid, /^[a-z0-9_-]{0,63}$/);
      assert.equal(labelFilter('ArvadosInstanceSetID', id), `labels.arvadosinstancesetid = "${labels.arvadosinstancesetid}"`);
    }
  });

  it('every disk is deleted with the VM: boot, scratch and local SSDs (a disk left behind bills on)', () => {
    const type = { ...N2, Name: 'n2ssd', AddedScratch: 20 * 2 ** 30 };
    const disks = body({ LocalSSDs: { n2ssd: 1 } }, { type }).disks!;
    assert.deepEqual(disks.map((d) => [d.boot ?? false, d.type, d.autoDelete]), [[true, 'PERSISTENT', true], [false, 'PERSISTENT', true], [false, 'SCRATCH', true]]);
  });

  it('the network: the project\'s default one when neither Network nor Subnetwork is set; a Network name as its global path; a path as written', () => {
    const nic = (raw: Record<string, unknown>) => {
      const n = body(raw).networkInterfaces![0];
      return { network: n.network, subnetwork: n.subnetwork };
    };
    assert.deepEqual(nic({}), { network: 'global/networks/default', subnetwork: undefined });
    assert.deepEqual(nic({ Network: 'arvados' }), { network: 'global/networks/arvados', subnetwork: undefined });
    assert.deepEqual(nic({ Network: 'projects/host/global/networks/shared' }), { network: 'projects/host/global/networks/shared', subnetwork: undefined });
    assert.deepEqual(nic({ Subnetwork: 'workers' }), { network: undefined, subnetwork: 'regions/europe-west4/subnetworks/workers' }, 'the subnetwork names its network');
  });

  it('ServiceAccountEmail: the VMs run as it with the Scopes (default cloud-platform); none without it', () => {
    assert.deepEqual(body({ ServiceAccountEmail: 'crunch@p.iam.gserviceaccount.com' }).serviceAccounts, [
      { email: 'crunch@p.iam.gserviceaccount.com', scopes: ['https://www.googleapis.com/auth/cloud-platform'] },
    ]);
    const scopes = ['https://www.googleapis.com/auth/devstorage.read_only', 'https://www.googleapis.com/auth/logging.write'];
    assert.deepEqual(body({ ServiceAccountEmail: 'crunch@p.iam.gserviceaccount.com', Scopes: scopes }).serviceAccounts?.[0].scopes, scopes);
    assert.equal(body().serviceAccounts, undefined);
  });

  it('a TagKeyPrefix long enough to make the InstanceSetID tag key longer than a label key may be still gives a valid label key', () => {
    const setTagKey = `${'VeryLongSitePrefix'.repeat(4)}InstanceSetID`;
    const labels = body({}, { setTagKey, tags: { [setTagKey]: 'set-1' } }).labels!;
    assert.equal(Object.keys(labels).length, 1);
    assert.match(Object.keys(labels)[0], /^[a-z][a-z0-9_-]{0,62}$/);
    assert.equal(Object.values(labels)[0], 'set-1');
  });
});
