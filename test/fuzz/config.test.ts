/**
 * Fuzzed config files: mutations of config.example.yml and of Arvados's
 * config.default.yml (with what a dispatcher needs filled in), made by
 * `config-mutations.ts`: values of the wrong type (string, number, bool,
 * list, map, null, deep garbage), bad units ("10x", "4 Gi", "-1", 1e400,
 * NaN), maps where scalars are and the reverse, unicode keys and values,
 * renamed and deleted keys, duplicate keys, tabs, anchors, tags, several
 * documents, truncated text.
 *
 * Properties, for every mutation:
 * - check-config (the function the CLI runs) ends with 0, 1 or 2 and throws
 *   nothing; when not 0, every line it prints names where the problem is: a
 *   YAML path under Clusters (`Clusters.zzzzz.Containers.CloudVMs.MaxInstances: ...`)
 *   or the file and its line and column; a refused edit of one key is named
 *   by that key's path (or a parent's or a child's); no stack trace.
 * - the daemon's start on the same file either builds the dispatcher it would
 *   run, or refuses with such lines.
 * A few mutations also go through the real command (`check-config`, and the
 * daemon itself with a config it must refuse) in a child process.
 *
 * `npm test` runs a few dozen cases; the full count:
 *   FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/config.test.ts   (or `npm run fuzz`)
 * and FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { ManualClock } from '../../src/clock/index.js';
import { checkConfigCommand } from '../../src/config/check-config.js';
import { showPath } from '../../src/config/fields.js';
import { loadDaemonConfig } from '../../src/daemon.js';
import { createDispatcher } from '../../src/dispatcher.js';
import { silentLogger } from '../../src/log.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { resetLameClouds } from '../../drivers/lame/index.js';
import { wholeDefaultConfig } from '../config/fixtures.js';
import { applyMutation, baseConfig, type BaseConfig, editTargets, type Mutation, mutationArb } from './config-mutations.js';
import { fuzzParams, fuzzTimeout } from './runs.js';
import { assertLineHoldsKey } from './located.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const QUICK_RUNS = 40;
const QUICK_SPAWNS = 6;

/** check-config's last line when it refuses the config. */
const ERRORS_COUNTED = /^\d+ errors?: the daemon would not start with this config$/;

/** A line of a V8 stack trace. */
const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m;

/** Buffers standing in for stdout and stderr. */
function buffers(): { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => ((out += s), true) },
    stderr: { write: (s: string) => ((err += s), true) },
    out: () => out,
    err: () => err,
  };
}

/**
 * A problem line's body without the `file: line N: ` put before a path the
 * file writes, and N; a YAML syntax error (`file: line N, column M: `) and
 * a line about the file as a whole keep their file.
 */
function unlocate(body: string, file: string): { body: string; line?: number } {
  if (!body.startsWith(`${file}: line `)) return { body };
  const m = /^line (\d+): /.exec(body.slice(file.length + 2));
  const rest = m ? body.slice(file.length + 2 + m[0].length) : '';
  // What the loader says of a line of the file itself, not of a key written there.
  if (!m || FILE_LINE_PROBLEMS.some((p) => rest.startsWith(p))) return { body };
  return { body: rest, line: Number(m[1]) };
}

/** The starts of what the loader says about a line of the file rather than a key (load.ts). */
const FILE_LINE_PROBLEMS = ['another YAML document: ', 'not valid UTF-8 '];

/** The first key of the path a problem line starts with (quoted keys unquoted), or undefined for a line about the file as a whole. */
function firstKey(body: string, file: string): string | undefined {
  if (body.startsWith(`${file}: `)) return undefined;
  const quoted = /^"(?:[^"\\]|\\.)*"/.exec(body);
  if (quoted) return JSON.parse(quoted[0]) as string;
  return /^[^.:]*/.exec(body)![0];
}

/** The top-level keys of the file as YAML reads them, or undefined when it has none to read. */
function topKeys(text: string): Set<string> | undefined {
  const doc = parseDocument(text, { uniqueKeys: false });
  const contents = doc.contents;
  if (!isMap(contents)) return undefined;
  // A scalar tagged into an object (`!!binary Clusters`) is named as it is written, as the loader names it.
  const keyText = (p: { key: unknown }): string => {
    if (!isScalar(p.key)) return String(p.key);
    const { value, source, tag } = p.key;
    if (typeof value !== 'object' || value === null || typeof source !== 'string') return String(value);
    return `${(tag ?? '').replace('tag:yaml.org,2002:', '!!')} ${source}`.trim();
  };
  const keys = contents.items.map(keyText);
  // A merge key (`<<: {...}`, `<<: *anchor`, or a list of them) brings its map's keys to the top level too.
  for (const p of contents.items) {
    if (keyText(p) !== '<<') continue;
    const values = isSeq(p.value) ? p.value.items : [p.value];
    for (const v of values) {
      const map = isAlias(v) ? v.resolve(doc) : v;
      if (isMap(map)) keys.push(...map.items.map(keyText));
    }
  }
  // The loader reads YAML 1.1's booleans as Arvados does, keys included: `yes:` is the key "true".
  return new Set(keys.flatMap((k) => (/^(?:y|Y|yes|Yes|YES|on|On|ON)$/.test(k) ? [k, 'true'] : /^(?:n|N|no|No|NO|off|Off|OFF)$/.test(k) ? [k, 'false'] : [k])));
}

/**
 * Asserts every problem line says where: a key path (under Clusters, or a
 * top-level key of the file), or the file itself (with line and column for
 * a YAML syntax error).
 */
function assertLocated(lines: string[], file: string, text: string, context: string): void {
  const keys = topKeys(text);
  for (const line of lines) {
    assert.doesNotMatch(line, STACK_LINE, `stack trace printed\n${context}`);
    if (/^\d+ warnings?: not accepted in strict mode/.test(line) || ERRORS_COUNTED.test(line)) continue;
    const { body, line: at } = unlocate(line.replace(/^(warning|cannot start): /, ''), file);
    if (at !== undefined) assertLineHoldsKey(text, at, body, context);
    const first = firstKey(body, file);
    if (first === undefined) continue;
    assert.match(body, /^\S.*?: \S/s, `a problem line without a path and a message: ${JSON.stringify(line)}\n${context}`);
    const named = first === 'Clusters' || keys === undefined || [...keys].some((k) => body.startsWith(`${showPath([k])}.`) || body.startsWith(`${showPath([k])}: `));
    assert.ok(named, `a problem line that names no key of the file: ${JSON.stringify(line)}\n${context}`);
  }
}

/** True when the problem lines name `target`, a parent of it below Clusters.<id>, or something inside it. */
function namesTarget(lines: string[], target: string[], file: string): boolean {
  const wanted = target.join('.');
  for (const line of lines) {
    const { body } = unlocate(line.replace(/^(warning|cannot start): /, ''), file);
    for (let n = target.length; n >= Math.min(2, target.length); n--) {
      const prefix = target.slice(0, n).join('.');
      if (body.startsWith(`${prefix}: `) || body.startsWith(`${prefix}.`)) return true;
    }
    if (body.startsWith(`${wanted}.`)) return true;
  }
  return false;
}

describe('fuzzed config files', function () {
  this.timeout(fuzzTimeout(QUICK_RUNS, 60_000));

  let dir: string;
  let bases: BaseConfig[];
  let caseNo = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'fuzz-config-'));
    // A real key, so that the start path gets past reading it.
    const key = generateSshKeyPair().private;
    // A region, so that the ec2 driver the defaults choose can be built.
    const defaults = parseDocument(wholeDefaultConfig(key));
    defaults.setIn(['Clusters', 'xxxxx', 'Containers', 'CloudVMs', 'DriverParameters', 'Region'], 'us-east-1');
    // A pre-2.0 site: the listen address from NodeProfiles, not InternalURLs.
    const example = readFileSync(join(REPO, 'config.example.yml'), 'utf8');
    const legacy = parseDocument(example);
    legacy.deleteIn(['Clusters', 'zzzzz', 'Services', 'DispatchCloud', 'InternalURLs']);
    legacy.setIn(['Clusters', 'zzzzz', 'NodeProfiles'], {
      '*': { 'arvados-dispatch-cloud': { Listen: ':9006' }, 'arvados-controller': { Listen: ':8003' } },
      'dispatch.zzzzz.example': { 'arvados-dispatch-cloud': { Listen: ':9007', TLS: true } },
    });
    legacy.setIn(['Clusters', 'zzzzz', 'API', 'RequestTimeout'], '30s');
    bases = [
      baseConfig('config.example.yml', example),
      baseConfig('config.default.yml', defaults.toString()),
      baseConfig('config.example.yml with NodeProfiles', legacy.toString()),
    ];
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await resetLameClouds();
  });

  function write(m: Mutation): { file: string; text: string } {
    const text = applyMutation(m);
    const file = join(dir, `case-${caseNo++ % 4}.yml`);
    writeFileSync(file, text);
    return { file, text };
  }

  function describeCase(m: Mutation, text: string, printed: string): string {
    return `base ${m.base.name}; edits ${JSON.stringify(m.tree, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}; text edits ${JSON.stringify(m.text)}\n--- printed:\n${printed}\n--- file (first 2000 chars):\n${text.slice(0, 2000)}`;
  }

  it('check-config exits 0, 1 or 2, names the YAML path of every problem, and never throws', async () => {
    await fc.assert(
      fc.asyncProperty(mutationArb(bases), async (m) => {
        const { file, text } = write(m);
        const io = buffers();
        let code: number;
        try {
          code = await checkConfigCommand({ config: file }, io);
        } catch (err) {
          assert.fail(`check-config threw ${(err as Error)?.stack ?? String(err)}\n${describeCase(m, text, io.err())}`);
        }
        const context = describeCase(m, text, io.err());
        assert.ok([0, 1, 2].includes(code), `exit ${code}\n${context}`);
        const lines = io.err().split('\n').filter((l) => l !== '');
        if (code === 0) assert.equal(io.err(), '', context);
        else assert.ok(lines.length > 0, `exit ${code} with nothing said\n${context}`);
        const errorLines = lines.filter((l) => !l.startsWith('warning: ') && !ERRORS_COUNTED.test(l));
        if (code === 2) {
          assert.ok(errorLines.length > 0, `exit 2 without an error line\n${context}`);
          const n = errorLines.length;
          assert.equal(lines[lines.length - 1], `${n} error${n === 1 ? '' : 's'}: the daemon would not start with this config`, context);
        }
        else assert.ok(io.out().startsWith('Clusters:'), `exit ${code} without the compiled config\n${context}`);
        assertLocated(lines, file, text, context);
        // One value edit that the loader refuses is named by its own path.
        const [edit] = m.tree;
        if (code === 2 && m.tree.length === 1 && m.text.length === 0 && (edit.kind === 'set' || edit.kind === 'setRaw') && edit.path[0] === 'Clusters') {
          // (Unless the edit broke the YAML itself: then the line and column are named.)
          const errors = errorLines;
          if (!errors.some((l) => unlocate(l, file).body.startsWith(`${file}: `))) {
            assert.ok(namesTarget(errors, editTargets(m)[0], file), `the error does not name ${edit.path.join('.')}\n${context}`);
          }
        }
      }),
      fuzzParams(QUICK_RUNS),
    );
  });

  it("the daemon's start either builds the dispatcher or refuses with the YAML path, never a stack trace", async () => {
    await fc.assert(
      fc.asyncProperty(mutationArb(bases), async (m) => {
        const { file, text } = write(m);
        const io = buffers();
        let loaded: ReturnType<typeof loadDaemonConfig>;
        try {
          loaded = loadDaemonConfig({ config: file }, io.stderr as unknown as NodeJS.WritableStream);
        } catch (err) {
          assert.fail(`the daemon's config step threw ${(err as Error)?.stack ?? String(err)}\n${describeCase(m, text, io.err())}`);
        }
        const context = describeCase(m, text, io.err());
        const lines = io.err().split('\n').filter((l) => l !== '');
        assertLocated(lines, file, text, context);
        if (!loaded) {
          assert.ok(lines.some((l) => !l.startsWith('warning: ')), `refused without saying why\n${context}`);
          return;
        }
        assert.equal(io.err(), '', context);
        // What the daemon does next with the config: build the dispatcher (driver included) it would run.
        let dispatcher;
        try {
          dispatcher = await createDispatcher(loaded.cluster, { logger: silentLogger(), clock: new ManualClock() });
        } catch (err) {
          const message = (err as Error)?.message ?? String(err);
          assert.ok(err instanceof Error, `the start threw a non-Error ${String(err)}\n${context}`);
          // "s": a key may hold a line separator (U+2028), which "." would not cross.
          assert.match(message, /^Clusters\.[^\s:]+\.\S.*: \S/s, `the start was refused without a YAML path: ${JSON.stringify(message)}\n${context}`);
          return;
        }
        await dispatcher.stop();
      }),
      fuzzParams(QUICK_RUNS),
    );
  });

  it('the real command (check-config, and the daemon with a config it must refuse) exits 0, 1 or 2 without a stack trace', async function () {
    // Each run starts node and the TypeScript loader: a small sample, run a few at a time.
    const params = fuzzParams<Mutation>(QUICK_SPAWNS, 50);
    this.timeout(Math.max(60_000, params.numRuns! * 6_000));
    const samples = fc.sample(mutationArb(bases), params);
    const jobs = samples.map((m, i) => async () => {
      const text = applyMutation(m);
      const file = join(dir, `spawn-${i}.yml`);
      writeFileSync(file, text);
      const io = buffers();
      const inProcess = await checkConfigCommand({ config: file }, io);
      // The daemon only where it refuses: a config it accepts would start it for real.
      const daemon = loadDaemonConfig({ config: file }, buffers().stderr as unknown as NodeJS.WritableStream) === undefined && i % 2 === 0;
      const args = daemon ? ['--config', file] : ['check-config', '--config', file];
      const r = await spawnCommand(args);
      const context = `${args.join(' ')}: exit ${r.code}\n${describeCase(m, text, r.stderr)}`;
      // The daemon, as the reference's: status 1 (systemd retries), and JSON log lines ending with `exiting`.
      assert.equal(r.code, daemon ? 1 : inProcess, context);
      assert.doesNotMatch(r.stderr, STACK_LINE, context);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assertLocated(daemon ? daemonProblemLines(lines, context) : lines, file, text, context);
    });
    await runConcurrently(jobs, 4);
  });
});

/**
 * The daemon's JSON log lines as check-config's problem lines: a warning's
 * message after `warning: `, and the `exiting` line's error (the problems
 * joined with "; ", so the first is checked), which must be there.
 */
function daemonProblemLines(lines: string[], context: string): string[] {
  const records = lines.map((l) => {
    try {
      return JSON.parse(l) as { level: string; msg: string; error?: unknown };
    } catch {
      return assert.fail(`not a JSON line: ${JSON.stringify(l)}\n${context}`);
    }
  });
  const exiting = records.at(-1);
  assert.ok(exiting?.msg === 'exiting' && typeof exiting.error === 'string', `no \`exiting\` line with an error last\n${context}`);
  return [...records.slice(0, -1).filter((r) => r.level === 'warning').map((r) => `warning: ${r.msg}`), exiting.error as string];
}

function spawnCommand(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/from-sources.mjs', ...args], { cwd: REPO, timeout: 60_000, env: { ...process.env, ARVADOS_SERVICE_INTERNAL_URL: '', ARVADOS_API_TOKEN: '', ARVADOS_API_HOST: '', ARVADOS_API_HOST_INSECURE: '' } }, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stderr });
    });
  });
}

async function runConcurrently(jobs: Array<() => Promise<void>>, width: number): Promise<void> {
  const queue = [...jobs];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await job();
    }),
  );
}
