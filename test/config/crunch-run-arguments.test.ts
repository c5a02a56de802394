/**
 * Containers.CrunchRunArgumentsList read as crunch-run reads it at every
 * start: each list that would fail or misdirect every start gets a warning
 * that says what crunch-run would do, and the lists it runs with get none.
 */
import assert from 'node:assert/strict';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

const P = 'Clusters.zzzzz.Containers.CrunchRunArgumentsList';
const REFUSED = 'crunch-run would refuse every start';
const NO_UUID = 'missing required argument: container-uuid';

function warningsFor(list: string, engine?: string): string[] {
  const engineLine = engine === undefined ? '' : `, RuntimeEngine: ${engine}`;
  const { warnings } = loadConfigText(`Clusters:\n  zzzzz:\n    Containers: {CrunchRunArgumentsList: ${list}${engineLine}}\n`);
  return warnings.filter((w) => w.startsWith(`${P}:`)).map((w) => w.slice(P.length + 2));
}

describe('config: CrunchRunArgumentsList, read as crunch-run reads it', () => {
  const cases: Array<[string, string, string[]]> = [
    ['no arguments', '[]', []],
    ['flags crunch-run has, values given either way', '["-cgroup-parent-subsystem=memory", "--crunchstat-interval", "5s", "-enable-memory-limit=false", "-container-network-mode", "host"]', []],
    ['a misspelt flag', '["-cgroup-parent-subsytem=memory"]', [`${REFUSED} (exit 2): flag provided but not defined: -cgroup-parent-subsytem`]],
    ['a boolean flag given a separate value', '["-enable-memory-limit", "false"]', [`"-enable-memory-limit" is a boolean flag, which takes no separate value, so "false" ends crunch-run's flags, and ${REFUSED} (${NO_UUID}): write "-enable-memory-limit=false"`]],
    ['a word that is not a flag', '["-crunchstat-interval=5s", "host"]', [`"host" is not a flag, so it ends crunch-run's flags, and ${REFUSED} (${NO_UUID})`]],
    ['"--" before a flag', '["--", "-enable-memory-limit=false"]', [`"--" ends crunch-run's flags, so what follows it is not read as flags, and ${REFUSED} (${NO_UUID})`]],
    ['a value flag last, without its value', '["-enable-memory-limit=false", "-container-network-mode"]', [`"-container-network-mode" ends the list without its value, so crunch-run would take the container UUID as the value and refuse every start (${NO_UUID})`]],
    ['a duration flag last, without its value', '["-crunchstat-interval"]', ['"-crunchstat-interval" ends the list without its value, so crunch-run would take the container UUID as the value and refuse every start (exit 2)']],
    ['a value flag given another flag as its value', '["-container-network-mode", "-config"]', []],
    ['-h before a flag without its value', '["-h", "-config"]', ['"-h" makes crunch-run print its usage and exit at every start, running no container']],
    ['a boolean flag with a word ParseBool refuses', '["-enable-memory-limit=no"]', [`${REFUSED} (exit 2): invalid boolean value "no" for -enable-memory-limit: parse error`]],
    ['a duration without a unit', '["-crunchstat-interval=10"]', [`${REFUSED} (exit 2): invalid value "10" for flag -crunchstat-interval: parse error`]],
    ['bad flag syntax', '["---detach"]', [`${REFUSED} (exit 2): bad flag syntax: ---detach`]],
    ['-help', '["--help"]', ['"--help" makes crunch-run print its usage and exit at every start, running no container']],
    ['-version', '["-version"]', ['-version makes crunch-run print its version and exit at every start, running no container']],
    ['-list', '["-list"]', ['-list makes every start list crunch-run processes instead of running the container']],
    ['-kill', '["-kill", "9"]', ['-kill makes every start signal a crunch-run process instead of running the container']],
    ['-detach=false', '["-detach=false"]', ["-detach=false keeps crunch-run in the foreground: every start would hold the dispatcher's SSH session until its container ends"]],
    ['-stdin-config=false', '["-stdin-config=false"]', ['-stdin-config=false makes crunch-run ignore the config the dispatcher sends (the API host and token among it) and read a config file on the VM']],
    ['a runtime engine of its own', '["-runtime-engine=singularity"]', ['sets the runtime engine to "singularity", overriding Containers.RuntimeEngine ("docker"): set RuntimeEngine instead']],
  ];
  for (const [what, list, expected] of cases) {
    it(`${expected.length > 0 ? 'warns about' : 'takes'} ${what}`, () => {
      assert.deepEqual(warningsFor(list), expected);
    });
  }

  it('takes the runtime engine from RuntimeEngine, and a list that names the same one', () => {
    assert.deepEqual(warningsFor('["-runtime-engine=singularity"]', 'singularity'), []);
  });

  it('warns about a runtime engine crunch-run does not know, in RuntimeEngine or in the list, and takes docker and singularity', () => {
    const { warnings } = loadConfigText('Clusters:\n  zzzzz:\n    Containers: {RuntimeEngine: Docker}\n');
    const unknown = (engine: string) =>
      `${JSON.stringify(engine)} is no engine crunch-run knows (docker or singularity): it would exit with "unsupported RuntimeEngine" before running each container, which is then unlocked and tried again until the controller cancels it (MaxDispatchAttempts)`;
    assert.deepEqual(
      warnings.filter((w) => w.includes('RuntimeEngine:')),
      [`Clusters.zzzzz.Containers.RuntimeEngine: ${unknown('Docker')}`],
    );
    assert.deepEqual(warningsFor('["-runtime-engine=podman"]'), [`sets the runtime engine to "podman", overriding Containers.RuntimeEngine ("docker"): set RuntimeEngine instead; and ${unknown('podman')}`]);
    for (const engine of ['docker', 'singularity']) {
      assert.ok(!loadConfigText(`Clusters:\n  zzzzz:\n    Containers: {RuntimeEngine: ${engine}}\n`).warnings.some((w) => w.includes('RuntimeEngine')), engine);
    }
  });

  it('gives every mode-changing flag of one list its own warning', () => {
    assert.deepEqual(warningsFor('["-list", "-stdin-config=false"]').length, 2);
  });

  it('leaves the config usable: a warning, not an error, since a newer crunch-run may have flags this check does not know', () => {
    const { cluster, warnings } = loadConfigText('Clusters:\n  zzzzz:\n    Containers: {CrunchRunArgumentsList: ["-some-new-flag"]}\n');
    assert.deepEqual(cluster.Containers.CrunchRunArgumentsList, ['-some-new-flag']);
    assert.ok(warnings.some((w) => w.startsWith(`${P}: ${REFUSED}`)), warnings.join('\n'));
  });
});
