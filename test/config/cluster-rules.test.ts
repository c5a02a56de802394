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
});
