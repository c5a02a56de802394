/**
 * The settings file's WarmPools and PreWarm sections: what a correct file
 * compiles to, and every mistake refused with its YAML path.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfigCommand } from '../../src/config/check-config.js';
import { loadSettingsText } from '../../src/config/settings.js';
import { settingsErrors as errorsOf } from './fixtures.js';

describe('settings file: WarmPools and PreWarm', () => {
  it('compiles pools as written (TimeZone defaults to UTC), the busy fraction and pre-warming', () => {
    const { settings } = loadSettingsText(
      [
        'WarmPools:',
        '  Pools:',
        '    - {InstanceType: m5.large, Min: 2}',
        '    - InstanceType: c5.large',
        '      Min: 4',
        '      Schedule: {Days: [Mon, Fri, Mon], From: "08:00", Until: "24:00"}',
        '  BusyFraction: 0.1',
        'PreWarm: {Enable: true, MaxSpeculativeSpend: 2.5, Lead: 1m, MinConfidence: 0.8}',
      ].join('\n'),
      'd.yml',
    );
    assert.deepEqual(settings.WarmPools, {
      Pools: [
        { InstanceType: 'm5.large', Min: 2 },
        { InstanceType: 'c5.large', Min: 4, Schedule: { Days: ['Mon', 'Fri'], From: '08:00', Until: '24:00', TimeZone: 'UTC' } },
      ],
      BusyFraction: 0.1,
    });
    assert.deepEqual(settings.PreWarm, { Enable: true, MaxSpeculativeSpend: 2.5, Lead: 60_000, MinConfidence: 0.8 });
  });

  it('takes an unquoted number as an instance type name without the reference warning: nobody else reads this file', () => {
    // The "reference refuses this" warning is for config.yml only; here it would be false, and fail check-config --strict.
    const { settings, warnings } = loadSettingsText('WarmPools:\n  Pools:\n    - {InstanceType: 4, Min: 1}\n', 'd.yml');
    assert.deepEqual(settings.WarmPools.Pools, [{ InstanceType: '4', Min: 1 }]);
    assert.deepEqual(warnings, []);
  });

  it('refuses a bad pool, naming the key', () => {
    assert.deepEqual(errorsOf('WarmPools: {Pools: {a: 1}}'), ['d.yml: WarmPools.Pools: expected a list of warm pools ({InstanceType, Min, Schedule}), got a map']);
    assert.deepEqual(errorsOf('WarmPools: {Pools: [{Min: 1}]}'), ['d.yml: WarmPools.Pools.0.InstanceType: expected the name of an instance type']);
    assert.deepEqual(errorsOf('WarmPools: {Pools: [m5.large]}'), ['d.yml: WarmPools.Pools.0: expected a map with InstanceType, Min and optionally Schedule']);
    assert.deepEqual(errorsOf('WarmPools: {Pools: [{InstanceType: a}]}'), ['d.yml: WarmPools.Pools.0.Min: expected a whole number of idle VMs, at least 1']);
    assert.deepEqual(errorsOf('WarmPools: {Pools: [{InstanceType: a, Min: 0}]}'), ['d.yml: WarmPools.Pools.0.Min: expected a whole number of idle VMs, at least 1, got 0']);
    assert.match(errorsOf('WarmPools: {Pools: [{InstanceType: a, Min: 1.5}]}')[0], /^d\.yml: WarmPools\.Pools\.0\.Min: /);
    assert.match(errorsOf('WarmPools: {Pools: [{InstanceType: a, Min: 1, Mni: 2}]}')[0], /^d\.yml: WarmPools\.Pools\.0\.Mni: unknown key/);
  });

  it('refuses a bad schedule, naming the key', () => {
    const pool = (schedule: string): string => `WarmPools: {Pools: [{InstanceType: a, Min: 1, Schedule: ${schedule}}]}`;
    const S = 'd.yml: WarmPools.Pools.0.Schedule';
    assert.deepEqual(errorsOf(pool('weekdays')), [`${S}: expected a map with Days, From, Until and TimeZone`]);
    assert.deepEqual(errorsOf(pool('[Mon, "08:00", "18:00"]')), [`${S}: expected a map with Days, From, Until and TimeZone`]);
    assert.deepEqual(errorsOf(pool('{Days: [], From: "08:00", Until: "18:00"}')), [`${S}.Days: expected a non-empty list of days (Sun, Mon, Tue, Wed, Thu, Fri, Sat)`]);
    assert.deepEqual(errorsOf(pool('{Days: [Monday], From: "08:00", Until: "18:00"}')), [`${S}.Days.0: expected one of Sun, Mon, Tue, Wed, Thu, Fri, Sat, got "Monday"`]);
    assert.deepEqual(errorsOf(pool('{Days: [Mon], From: "8:00", Until: "18:00"}')), [`${S}.From: expected a clock time "HH:MM" (00:00 to 24:00), got "8:00"`]);
    assert.deepEqual(errorsOf(pool('{Days: [Mon], From: "08:00"}')), [`${S}.Until: expected a clock time "HH:MM" (00:00 to 24:00), got null`]);
    assert.deepEqual(errorsOf(pool('{Days: [Mon], From: "08:00", Until: "24:30"}')), [`${S}.Until: expected a clock time "HH:MM" (00:00 to 24:00), got "24:30"`]);
    assert.deepEqual(errorsOf(pool('{Days: [Mon], From: "22:00", Until: "06:00"}')), [`${S}.Until: expected a time after From (22:00); write a window over midnight as two entries`]);
    assert.deepEqual(errorsOf(pool('{Days: [Mon], From: "08:00", Until: "18:00", TimeZone: Mars/Olympus}')), [
      `${S}.TimeZone: expected an IANA time zone such as "UTC" or "Europe/Berlin", got "Mars/Olympus"`,
    ]);
    assert.match(errorsOf(pool('{Days: [Mon], From: "08:00", Until: "18:00", Cron: "* * *"}'))[0], new RegExp(`^${S.replace(/\./g, '\\.')}\\.Cron: unknown key`));
  });

  it('refuses out-of-range pre-warming and busy fraction values', () => {
    assert.deepEqual(errorsOf('PreWarm: {MinConfidence: 0}'), ['d.yml: PreWarm.MinConfidence: expected a number greater than 0 and at most 1, got 0']);
    assert.deepEqual(errorsOf('PreWarm: {MaxSpeculativeSpend: -1}'), ['d.yml: PreWarm.MaxSpeculativeSpend: expected a number of at least 0, got -1']);
    assert.deepEqual(errorsOf('WarmPools: {BusyFraction: 11}'), ['d.yml: WarmPools.BusyFraction: expected a number of at least 0 and at most 10, got 11']);
  });

  it('check-config refuses a pool of an instance type the cluster config does not have', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warm-'));
    try {
      const file = join(dir, 'd.yml');
      writeFileSync(file, 'WarmPools: {Pools: [{InstanceType: no-such-type, Min: 1}]}\n');
      let stderr = '';
      const out = { stdout: { write: () => true }, stderr: { write: (x: string) => ((stderr += x), true) } };
      const config = fileURLToPath(new URL('../../config.example.yml', import.meta.url));
      assert.equal(await checkConfigCommand({ config, settings: file, settingsExplicit: true }, out), 2);
      assert.equal(stderr, `${file}: line 1: WarmPools.Pools.0.InstanceType: no instance type "no-such-type" in the cluster config\n1 error: the daemon would not start with this config\n`);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('reads a clock time strictly as HH:MM, hours to 24 and minutes to 59', () => {
    const S = 'd.yml: WarmPools.Pools.0.Schedule';
    const pool = (from: string, until: string): string => `WarmPools: {Pools: [{InstanceType: a, Min: 1, Schedule: {Days: [Mon], From: "${from}", Until: "${until}"}}]}`;
    const expected = (key: string, got: string): string => `${S}.${key}: expected a clock time "HH:MM" (00:00 to 24:00), got "${got}"`;
    assert.deepEqual(errorsOf(pool('08:60', '18:00')), [expected('From', '08:60')]);
    assert.deepEqual(errorsOf(pool('08:00', '25:00')), [expected('Until', '25:00')]);
    assert.deepEqual(errorsOf(pool('08:00x', '18:00')), [expected('From', '08:00x')]);
  });

  it('refuses a window that ends when it begins', () => {
    assert.deepEqual(errorsOf('WarmPools: {Pools: [{InstanceType: a, Min: 1, Schedule: {Days: [Mon], From: "08:00", Until: "08:00"}}]}'), [
      'd.yml: WarmPools.Pools.0.Schedule.Until: expected a time after From (08:00); write a window over midnight as two entries',
    ]);
  });

  it('refuses an empty InstanceType rather than dropping the pool', () => {
    assert.deepEqual(errorsOf('WarmPools: {Pools: [{InstanceType: "", Min: 1}]}'), ['d.yml: WarmPools.Pools.0.InstanceType: expected the name of an instance type']);
  });

  it('takes an empty Schedule as none: the pool is kept warm at all times', () => {
    const { settings } = loadSettingsText('WarmPools:\n  Pools:\n    - InstanceType: a\n      Min: 1\n      Schedule:\n', 'd.yml');
    assert.deepEqual(settings.WarmPools.Pools, [{ InstanceType: 'a', Min: 1 }]);
  });
});
