import assert from 'node:assert/strict';
import { DEFAULT_GCE_PARAMS, GceParamsError, parseGceParams } from '../../../drivers/gce/params.js';
import { gceDriver } from '../../../drivers/gce/index.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import { makeContext } from '../lame/helpers.js';

const base = { Project: 'p', Zone: 'us-central1-a' };

describe('gce DriverParameters', () => {
  it('fills in defaults', () => {
    const { params, unknown } = parseGceParams(base);
    assert.deepEqual(unknown, []);
    assert.deepEqual(params.Zone, ['us-central1-a']);
    assert.equal(params.AdminUsername, 'crunch');
    assert.equal(params.DiskType, DEFAULT_GCE_PARAMS.DiskType);
    assert.equal(params.ExternalIP, false);
    assert.equal(params.CredentialsFile, '');
  });

  it('takes a zone list as a YAML list or a comma-separated string', () => {
    assert.deepEqual(parseGceParams({ ...base, Zone: ['us-east1-b', 'us-east1-c'] }).params.Zone, ['us-east1-b', 'us-east1-c']);
    assert.deepEqual(parseGceParams({ ...base, Zone: 'us-east1-b, us-east1-c' }).params.Zone, ['us-east1-b', 'us-east1-c']);
  });

  const bad: Array<[string, Record<string, unknown>]> = [
    ['Project', { Zone: 'us-central1-a' }],
    ['Zone', { Project: 'p' }],
    ['Zone', { ...base, Zone: 'Not A Zone' }],
    // A region where a zone belongs: every insert would fail.
    ['Zone', { ...base, Zone: 'us-central1-a, us-central1' }],
    ['AdminUsername', { ...base, AdminUsername: 'Root User' }],
    ['DiskSizeGB', { ...base, DiskSizeGB: -5 }],
    ['DiskSizeGB', { ...base, DiskSizeGB: 'ten' }],
    ['ExternalIP', { ...base, ExternalIP: 'yes' }],
    ['Endpoint', { ...base, Endpoint: 'ftp://x' }],
    ['Scopes', { ...base, Scopes: 7 }],
    ['DiskType', { ...base, DiskType: '' }],
    ['NetworkTags', { ...base, NetworkTags: 'Arvados-Workers' }],
    ['NetworkTags', { ...base, NetworkTags: ['ok', '9lives'] }],
    ['NetworkTags', { ...base, NetworkTags: 'trailing-' }],
    ['NetworkTags', { ...base, NetworkTags: 'under_score' }],
    ['NetworkTags', { ...base, NetworkTags: `a${'b'.repeat(63)}` }],
    ['NetworkTags', { ...base, NetworkTags: Array.from({ length: 65 }, (_, i) => `t${i}`) }],
    ['NetworkTags', { ...base, NetworkTags: { ssh: true } }],
    ['DiskTypes', { ...base, DiskTypes: 'n4: hyperdisk-balanced' }],
    ['DiskTypes', { ...base, DiskTypes: ['hyperdisk-balanced'] }],
    ['DiskTypes.N4', { ...base, DiskTypes: { N4: 'hyperdisk-balanced' } }],
    ['DiskTypes.n4-standard-4', { ...base, DiskTypes: { 'n4-standard-4': 'hyperdisk-balanced' } }],
    ['DiskTypes.n4', { ...base, DiskTypes: { n4: '' } }],
    ['DiskTypes.n4', { ...base, DiskTypes: { n4: 7 } }],
    ['DiskTypes.n4', { ...base, DiskTypes: { n4: 'zones/us-central1-a/diskTypes/hyperdisk-balanced' } }],
    ['DiskTypes.c4a', { ...base, DiskTypes: { n4: 'hyperdisk-balanced', c4a: 'Hyperdisk Balanced' } }],
    ['GuestAccelerators', { ...base, GuestAccelerators: ['nvidia-tesla-t4'] }],
    ['GuestAccelerators.gpu', { ...base, GuestAccelerators: { gpu: 'nvidia-tesla-t4' } }],
    ['GuestAccelerators.gpu.AcceleratorType', { ...base, GuestAccelerators: { gpu: { Count: 1 } } }],
    ['GuestAccelerators.gpu.AcceleratorType', { ...base, GuestAccelerators: { gpu: { AcceleratorType: 'zones/us-central1-a/acceleratorTypes/nvidia-tesla-t4' } } }],
    ['GuestAccelerators.gpu.Count', { ...base, GuestAccelerators: { gpu: { AcceleratorType: 'nvidia-tesla-t4', Count: 0 } } }],
    ['GuestAccelerators.gpu.Count', { ...base, GuestAccelerators: { gpu: { AcceleratorType: 'nvidia-tesla-t4', Count: 1.5 } } }],
    ['GuestAccelerators.gpu.Type', { ...base, GuestAccelerators: { gpu: { Type: 'nvidia-tesla-t4' } } }],
    ['LocalSSDs', { ...base, LocalSSDs: [2] }],
    ['LocalSSDs.big', { ...base, LocalSSDs: { big: 0 } }],
    ['LocalSSDs.big', { ...base, LocalSSDs: { big: 'two' } }],
    ['LocalSSDs.big', { ...base, LocalSSDs: { big: null } }],
    ['LocalSSDs.big.Count', { ...base, LocalSSDs: { big: { Count: 1.5 } } }],
    ['LocalSSDs.big.Count', { ...base, LocalSSDs: { big: { Interface: 'NVME' } } }],
    ['LocalSSDs.big.Interface', { ...base, LocalSSDs: { big: { Count: 1, Interface: 'SATA' } } }],
    ['LocalSSDs.big.Size', { ...base, LocalSSDs: { big: { Count: 1, Size: '375GiB' } } }],
  ];
  for (const [name, raw] of bad) {
    it(`names ${name} when it is bad (${JSON.stringify(raw[name.split('.')[0]] ?? 'missing')})`, () => {
      assert.throws(() => parseGceParams(raw), (err: unknown) => err instanceof GceParamsError && err.message.startsWith(`DriverParameters.${name}:`));
    });
  }

  it('takes as AdminUsername any login name the guest agent and useradd take, as ec2 does', () => {
    for (const name of ['Admin', 'first.last', 'ec2-user', '_svc', '9lives', 'machine$', 'crunch']) {
      assert.equal(parseGceParams({ ...base, AdminUsername: name }).params.AdminUsername, name);
    }
  });

  it('refuses an AdminUsername the guest agent would skip in ssh-keys, saying why', () => {
    const refused: Array<[unknown, RegExp]> = [
      ['first:last', /without ":" or whitespace \(ssh-keys lines are USER:KEY\)/],
      ['Root User', /without ":" or whitespace/],
      ['crunch\n', /without ":" or whitespace/],
      ['.', /guest agent refuses/],
      ['..', /guest agent refuses/],
      ['-crunch', /expected a user name/],
      ['home/crunch', /expected a user name/],
      ['', /expected a user name/],
      [7, /expected a user name/],
    ];
    for (const [name, why] of refused) {
      assert.throws(
        () => parseGceParams({ ...base, AdminUsername: name }),
        (err: unknown) => err instanceof GceParamsError && err.message.startsWith('DriverParameters.AdminUsername: ') && why.test(err.message),
        JSON.stringify(name),
      );
    }
  });

  it('holds a zone, network tag or scope written twice once (a zone would otherwise be asked twice in one create)', () => {
    const { params } = parseGceParams({ ...base, Zone: 'us-east1-b, us-east1-c, us-east1-b', NetworkTags: ['ssh', 'ssh'], Scopes: ['s', ' s'] });
    assert.deepEqual(params.Zone, ['us-east1-b', 'us-east1-c']);
    assert.deepEqual(params.NetworkTags, ['ssh']);
    assert.deepEqual(params.Scopes, ['s']);
  });

  it('reads NetworkTags as a YAML list or a comma-separated string, like Zone; none by default', () => {
    assert.deepEqual(parseGceParams(base).params.NetworkTags, []);
    assert.deepEqual(parseGceParams({ ...base, NetworkTags: ['arvados-worker', 'allow-ssh'] }).params.NetworkTags, ['arvados-worker', 'allow-ssh']);
    assert.deepEqual(parseGceParams({ ...base, NetworkTags: 'arvados-worker, allow-ssh' }).params.NetworkTags, ['arvados-worker', 'allow-ssh']);
    // 1 and 63 characters are the bounds; a digit may end a tag.
    assert.deepEqual(parseGceParams({ ...base, NetworkTags: ['a', `a${'b'.repeat(61)}9`] }).params.NetworkTags, ['a', `a${'b'.repeat(61)}9`]);
  });

  it('reads DiskTypes per machine family; none by default', () => {
    assert.deepEqual(parseGceParams(base).params.DiskTypes, {});
    assert.deepEqual(parseGceParams({ ...base, DiskTypes: null }).params.DiskTypes, {});
    const raw = { n4: 'hyperdisk-balanced', e2: ' pd-balanced ', a4x: 'hyperdisk-balanced' };
    assert.deepEqual(parseGceParams({ ...base, DiskTypes: raw }).params.DiskTypes, { n4: 'hyperdisk-balanced', e2: 'pd-balanced', a4x: 'hyperdisk-balanced' });
  });

  it('reads LocalSSDs per instance type name, as a count or {Count, Interface}; SCSI unless NVME is asked for; none by default', () => {
    assert.deepEqual(parseGceParams(base).params.LocalSSDs, {});
    const raw = { a: 2, b: '1', c: { Count: 4, Interface: 'nvme' }, d: { Count: 8, Interface: null } };
    assert.deepEqual(parseGceParams({ ...base, LocalSSDs: raw }).params.LocalSSDs, {
      a: { Count: 2, Interface: 'SCSI' },
      b: { Count: 1, Interface: 'SCSI' },
      c: { Count: 4, Interface: 'NVME' },
      d: { Count: 8, Interface: 'SCSI' },
    });
    // With the cluster's type names, an entry must name one of them.
    assert.throws(() => parseGceParams({ ...base, LocalSSDs: { n2big: 1 } }, ['n2standard2']), /^GceParamsError: DriverParameters\.LocalSSDs\.n2big: no such instance type \(InstanceTypes has n2standard2\)$/);
  });

  it('reads GuestAccelerators per instance type name, Count optional', () => {
    assert.deepEqual(parseGceParams(base).params.GuestAccelerators, {});
    const raw = { gpu: { AcceleratorType: 'nvidia-tesla-t4' }, big: { AcceleratorType: ' nvidia-tesla-v100 ', Count: '4' } };
    assert.deepEqual(parseGceParams({ ...base, GuestAccelerators: raw }).params.GuestAccelerators, {
      gpu: { AcceleratorType: 'nvidia-tesla-t4' },
      big: { AcceleratorType: 'nvidia-tesla-v100', Count: 4 },
    });
    assert.deepEqual(parseGceParams({ ...base, GuestAccelerators: null }).params.GuestAccelerators, {});
  });

  it('given the instance type names, refuses a GuestAccelerators entry that names none of them; so does the factory', async () => {
    const raw = { ...base, GuestAccelerators: { gpu: { AcceleratorType: 'nvidia-tesla-t4' } } };
    assert.doesNotThrow(() => parseGceParams(raw, ['gpu', 'small']));
    assert.throws(() => parseGceParams(raw, ['gpux', 'small']), /^GceParamsError: DriverParameters\.GuestAccelerators\.gpu: no such instance type \(InstanceTypes has gpux, small\)/);
    // makeContext's cluster has the types "small" and "large".
    await assert.rejects(Promise.resolve().then(() => gceDriver({ ...raw, Endpoint: 'http://127.0.0.1:9' }, makeContext())), /DriverParameters\.GuestAccelerators\.gpu: no such instance type/);
  });

  it('collects unknown names, and the factory warns once naming them (not their values)', async () => {
    assert.deepEqual(parseGceParams({ ...base, ClientSecret: 's3cret', AccessKeyID: 'x' }).unknown, ['AccessKeyID', 'ClientSecret']);
    const logs = new LineCollector();
    const ctx = { ...makeContext(), logger: createLogger({ stream: logs, level: 'debug' }) };
    const set = await gceDriver({ ...base, Endpoint: 'http://127.0.0.1:9', ClientSecret: 's3cret' }, ctx);
    set.stop();
    const warnings = logs.lines.filter((l) => l.includes('does not use'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /ClientSecret/);
    assert.doesNotMatch(logs.lines.join('\n'), /s3cret/);
  });

  it('the factory warns when workers would run as the default service account (containers can read its token), and not for another account or none', async () => {
    const warned = async (extra: Record<string, unknown>) => {
      const logs = new LineCollector();
      const ctx = { ...makeContext(), logger: createLogger({ stream: logs, level: 'debug' }) };
      const set = await gceDriver({ ...base, Endpoint: 'http://127.0.0.1:9', ...extra }, ctx);
      set.stop();
      return logs.records().filter((r) => r.level === 'warning' && String(r.msg).includes('default service account'));
    };
    const lines = await warned({ ServiceAccountEmail: 'default' });
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0].Scopes, ['https://www.googleapis.com/auth/cloud-platform']);
    assert.deepEqual(await warned({ ServiceAccountEmail: 'crunch-worker@p.iam.gserviceaccount.com' }), []);
    assert.deepEqual(await warned({}), []);
  });

  it('the factory rejects bad parameters before loading the SDK', async () => {
    await assert.rejects(Promise.resolve().then(() => gceDriver({ Zone: 'us-central1-a' }, makeContext())), /DriverParameters\.Project/);
  });
});
