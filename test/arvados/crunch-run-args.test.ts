/**
 * crunch-run's command line, read with Go `flag` rules: where the flags
 * end, values given either way, boolean flags set false, the refusals that
 * make the real one exit 2, -help, and the flags each release has.
 */
import assert from 'node:assert/strict';
import { hasFlag, parseCrunchRunArgs } from '../../src/arvados/crunch-run-args.js';

const UUID = 'zzzzz-dz642-000000000000001';

describe('crunch-run command line', () => {
  it('ends the flags at the first non-flag, at "-" and after "--"', () => {
    assert.deepEqual(parseCrunchRunArgs(['--detach', UUID, '--list']).positional, [UUID, '--list']);
    assert.deepEqual(
      [['--detach', UUID], ['--detach', '--', UUID], ['--detach', '-h', '--list'], ['--kill', '15']].map((a) => parseCrunchRunArgs(a).flagsEnd),
      [1, 1, 1, 2],
      'flagsEnd: the first non-flag, the "--", the -h, or the end',
    );
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

  it("sets a boolean flag from the words Go's ParseBool takes, only after an equals sign, and refuses any other word", () => {
    for (const word of ['true', '1', 't', 'T', 'TRUE', 'True']) assert.equal(parseCrunchRunArgs([`--list=${word}`]).list, true, word);
    for (const word of ['false', '0', 'f', 'F', 'FALSE', 'False']) assert.equal(parseCrunchRunArgs([`--list=${word}`]).list, false, word);
    assert.equal(parseCrunchRunArgs(['--detach=0', UUID]).detach, false);
    assert.throws(() => parseCrunchRunArgs(['-enable-memory-limit=no', UUID]), /^Error: invalid boolean value "no" for -enable-memory-limit: parse error$/);
    const spaced = parseCrunchRunArgs(['-detach', 'false', UUID]);
    assert.deepEqual([spaced.detach, spaced.positional], [true, ['false', UUID]], 'a separate word is no value: it ends the flags');
  });

  it('takes --kill N with an integer, as Go reads one, and checks durations', () => {
    assert.equal(parseCrunchRunArgs(['--kill', '15', UUID]).kill, 15);
    assert.equal(parseCrunchRunArgs(['--kill=0x9', UUID]).kill, 9);
    assert.equal(parseCrunchRunArgs(['--kill=-9', UUID]).kill, -9, 'negative: not the kill mode');
    assert.equal(parseCrunchRunArgs(['--detach', UUID]).kill, -1, 'not given');
    assert.throws(() => parseCrunchRunArgs(['--kill', 'TERM', UUID]), /^Error: invalid value "TERM" for flag -kill: parse error$/);
    assert.throws(() => parseCrunchRunArgs(['-crunchstat-interval=10', UUID]), /^Error: invalid value "10" for flag -crunchstat-interval: parse error$/);
    assert.deepEqual(parseCrunchRunArgs(['-crunchstat-interval', '1m30s', '-check-containerd=0', UUID]).positional, [UUID]);
  });

  it('refuses bad flag syntax, and stops at -help or -h, which crunch-run answers with its usage', () => {
    for (const arg of ['---detach', '-=x', '--=x']) assert.throws(() => parseCrunchRunArgs([arg, UUID]), new RegExp(`^Error: bad flag syntax: ${arg}$`));
    for (const arg of ['-h', '--help', '-help=x']) assert.equal(parseCrunchRunArgs(['--detach', arg, '--no-such-flag']).help, true, arg);
    assert.equal(parseCrunchRunArgs(['-version', UUID]).version, true);
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
