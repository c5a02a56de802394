/**
 * Rules of the cluster section that the other config tests left unpinned
 * (found by mutation testing, round 5).
 */
import assert from 'node:assert/strict';
import { clusterSecrets } from '../../src/config/cluster.js';
import { errorsOf, MGMT_TOKEN, ROOT_TOKEN, loadUnlocated as loadConfigText } from './load-helpers.js';

describe('config: cluster section rules', () => {
  it('refuses a cluster ID with capital letters, as Arvados does (a-z and 0-9 only)', () => {
    assert.deepEqual(errorsOf(() => loadConfigText('Clusters:\n  ZZZZZ:\n    {}\n')), ['Clusters.ZZZZZ: cluster ID should be 5 alphanumeric characters (a-z, 0-9)']);
  });

  it('takes an empty LogLevel and Format as the defaults, info and json, as Arvados does', () => {
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    SystemLogs: {LogLevel: "", Format: ""}\n');
    assert.deepEqual(cluster.SystemLogs, { LogLevel: 'info', Format: 'json' });
  });

  it('takes SystemLogs.Format plain as text, with a warning saying so', () => {
    const { cluster, warnings } = loadConfigText('Clusters:\n  zzzzz:\n    SystemLogs: {Format: plain}\n');
    assert.equal(cluster.SystemLogs.Format, 'text');
    assert.ok(warnings.includes('Clusters.zzzzz.SystemLogs.Format: plain (text without timestamps) is written as text here'), warnings.join('\n'));
  });

  it('takes LogLevel verbose, with a warning that the reference dispatcher exits at start on it', () => {
    const { cluster, warnings } = loadConfigText('Clusters:\n  zzzzz:\n    SystemLogs: {LogLevel: Verbose}\n');
    assert.equal(cluster.SystemLogs.LogLevel, 'Verbose');
    assert.ok(
      warnings.includes(
        'Clusters.zzzzz.SystemLogs.LogLevel: the reference dispatcher refuses this (an unknown log level: it takes trace, debug, info, warn, warning, error, fatal or panic); switching back to it would fail to start',
      ),
      warnings.join('\n'),
    );
    assert.ok(!loadConfigText('Clusters:\n  zzzzz:\n    SystemLogs: {LogLevel: DEBUG}\n').warnings.some((w) => w.includes('LogLevel')), 'a level logrus knows, in any case, is no warning');
  });

  it('counts both tokens and the database password as secrets, which every logger scrubs', () => {
    const { cluster } = loadConfigText(
      `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    ManagementToken: ${MGMT_TOKEN}\n    PostgreSQL: {Connection: {host: db, password: hunter2hunter2}}\n`,
    );
    assert.deepEqual(new Set(clusterSecrets(cluster)), new Set([ROOT_TOKEN, MGMT_TOKEN, 'hunter2hunter2']));
  });

  describe('LocalKeepBlobBuffersPerVCPU with volumes that keep crunch-run from starting a local keepstore (a warning, as Arvados gives it)', () => {
    const P = 'Clusters.zzzzz.Containers.LocalKeepBlobBuffersPerVCPU';
    const VOL = 'zzzzz-nyw5e-000000000000000';
    const advice = 'the dispatcher still adds its RAM when choosing instance types: set it to 0';
    const cases: Array<[string, string, string[]]> = [
      ['a volume with AccessViaHosts', `Volumes: {${VOL}: {AccessViaHosts: {"http://keep0:25107": {}}, Replication: 2}}`, [`${P}: 1, but no local keepstore is started on the VMs, because volume ${VOL} uses AccessViaHosts; ${advice}`]],
      ['a writable volume below DefaultReplication', `Volumes: {${VOL}: {Replication: 1}}`, [`${P}: 1, but no local keepstore is started on the VMs, because volume ${VOL} is writable and has less Replication than Collections.DefaultReplication (1 < 2); ${advice}`]],
      ['a writable volume without Replication', `Volumes: {${VOL}: {Driver: S3}}`, [`${P}: 1, but no local keepstore is started on the VMs, because volume ${VOL} is writable and has less Replication than Collections.DefaultReplication (0 < 2); ${advice}`]],
      ['a read-only volume below DefaultReplication', `Volumes: {${VOL}: {ReadOnly: true, Replication: 1}}`, []],
      ['a volume at DefaultReplication', `Volumes: {${VOL}: {Replication: 2, AccessViaHosts: {}}}`, []],
      ['a volume at a lowered DefaultReplication', `Collections: {DefaultReplication: 1}\n    Volumes: {${VOL}: {Replication: 1}}`, []],
      ['LocalKeepBlobBuffersPerVCPU 0', `Containers: {LocalKeepBlobBuffersPerVCPU: 0}\n    Volumes: {${VOL}: {AccessViaHosts: {"http://keep0:25107": {}}}}`, []],
      ['a SAMPLE volume, or a SAMPLE AccessViaHosts entry (Arvados drops SAMPLE entries first)', `Volumes: {SAMPLE: {AccessViaHosts: {"http://keep0:25107": {}}}, ${VOL}: {Replication: 2, AccessViaHosts: {SAMPLE: {}}}}`, []],
    ];
    for (const [what, section, expected] of cases) {
      it(`${expected.length > 0 ? 'warns' : 'does not warn'} with ${what}`, () => {
        const { warnings } = loadConfigText(`Clusters:\n  zzzzz:\n    ${section}\n`);
        assert.deepEqual(warnings.filter((w) => w.startsWith(`${P}:`)), expected);
      });
    }
  });
});
