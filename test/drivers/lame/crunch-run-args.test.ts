/**
 * The emulated crunch-run's command line, read with Go `flag` rules: where
 * the flags end, values given either way, boolean flags set false, the
 * refusals that make the real one exit 2, and the flags each release has.
 */
import assert from 'node:assert/strict';
import { hasFlag, parseCrunchRunArgs } from '../../../drivers/lame/crunch-run-args.js';

const UUID = 'zzzzz-dz642-000000000000001';

describe('lame crunch-run command line', () => {
  it('ends the flags at the first non-flag, at "-" and after "--"', () => {
    assert.deepEqual(parseCrunchRunArgs(['--detach', UUID, '--list']).positional, [UUID, '--list']);
    const dashed = parseCrunchRunArgs(['--detach', '--', '--list', UUID]);
    assert.deepEqual([dashed.list, dashed.positional], [false, ['--list', UUID]], '"--" is dropped and what follows is positional');
    assert.deepEqual(parseCrunchRunArgs(['-detach', '-', UUID]).positional, ['-', UUID]);
  });

  it('takes a value as -name=v or -name v, and refuses a flag that needs one at the end', () => {
    assert.equal(parseCrunchRunArgs(['-runtime-engine=singularity', UUID]).runtimeEngine, 'singularity');
    const spaced = parseCrunchRunArgs(['--runtime-engine', 'docker', UUID]);
    assert.deepEqual([spaced.runtimeEngine, spaced.positional], ['docker', [UUID]]);
    assert.throws(() => parseCrunchRunArgs(['--detach', '--cgroup-parent']), /^Error: flag needs an argument: -cgroup-parent$/);
  });

  it('sets a boolean flag from =true, =1, =false or =0', () => {
    assert.equal(parseCrunchRunArgs(['--list=true']).list, true);
    assert.equal(parseCrunchRunArgs(['--list=1']).list, true);
    assert.equal(parseCrunchRunArgs(['--list=false']).list, false);
    assert.equal(parseCrunchRunArgs(['--detach=0', UUID]).detach, false);
  });

  it('takes --kill N only with a signal number', () => {
    assert.equal(parseCrunchRunArgs(['--kill', '15', UUID]).kill, 15);
    assert.equal(parseCrunchRunArgs(['--detach', UUID]).kill, -1, 'not given');
    assert.throws(() => parseCrunchRunArgs(['--kill', 'TERM', UUID]), /invalid value "TERM" for flag -kill/);
    assert.throws(() => parseCrunchRunArgs(['--kill=-9', UUID]), /invalid value "-9" for flag -kill/);
  });

  it('has --stdin-prices from release 3.2.1 on, and every release has --list', () => {
    for (const version of [undefined, '3.2.1', '3.3.0', '4.0.0', '3.10.0']) {
      assert.equal(hasFlag('stdin-prices', version), true, `release ${version ?? 'current'}`);
      assert.equal(parseCrunchRunArgs(['--list', '--stdin-prices'], version).stdinPrices, true);
    }
    for (const version of ['3.2.0', '3.1.9', '2.7.4']) {
      assert.equal(hasFlag('stdin-prices', version), false, `release ${version}`);
      assert.throws(() => parseCrunchRunArgs(['--list', '--stdin-prices'], version), /flag provided but not defined: -stdin-prices/);
    }
    assert.equal(hasFlag('list', '2.7.4'), true);
    assert.equal(hasFlag('no-such-flag', undefined), false);
  });
});
