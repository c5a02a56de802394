import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, CommanderError } from 'commander';
import { buildProgram, goStyleArgs, usageErrorLine } from '../src/cli.js';
import { loadConfigFile } from '../src/config/index.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DEFAULTS = join(REPO, '..', 'shared', 'arvados-config.default.yml');

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/from-sources.mjs', ...args], { cwd: REPO, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** The daemon's last words on stderr, as the reference's: `{"level":"error","msg":"exiting","error":"..."}`, `error` a string. */
function exitingLine(stderr: string): { level: string; error: string } {
  const lines = stderr.trim().split('\n');
  const last = JSON.parse(lines[lines.length - 1]) as { level: string; msg: string; error: unknown };
  assert.equal(last.msg, 'exiting', stderr);
  assert.equal(typeof last.error, 'string', stderr);
  return { level: last.level, error: last.error as string };
}

describe('arvados-dispatch-cloud command', function () {
  this.timeout(60_000);

  it('--help lists the subcommands', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /check-config/);
    assert.match(r.stdout, /demo/);
    assert.match(r.stdout, /lame-cloud/);
    assert.match(r.stdout, /--config <file>/);
  });

  it('refuses to start the daemon without what it needs: exit 1 (systemd retries), one JSON `exiting` line on stderr naming each key', async () => {
    const r = await run(['--config', DEFAULTS]);
    assert.equal(r.code, 1);
    const { error } = exitingLine(r.stderr);
    assert.match(error, /Clusters\.xxxxx\.SystemRootToken: required to run the dispatcher, but empty/);
    assert.match(error, /Clusters\.xxxxx\.Services\.Controller\.ExternalURL: required to run the dispatcher, but empty/);
    assert.match(error, /Clusters\.xxxxx\.Containers\.DispatchPrivateKey: required/);
  });

  it("a config it cannot read: exit 1 and the reference's bootstrap line (JSON, before any SystemLogs.Format is known) on stderr", async () => {
    const r = await run(['--config', join(REPO, 'no-such-config.yml')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const line = exitingLine(r.stderr);
    assert.equal(line.level, 'error');
    assert.match(line.error, /no-such-config\.yml: cannot read the config file: ENOENT/);
    // Nothing but JSON lines on stderr: alerts and log pipelines parse every one.
    for (const l of r.stderr.trim().split('\n')) JSON.parse(l);
  });

  it('a usage error (unknown flag, stray argument, bad value) exits 2, so the unit stops, with one line and no help text; --help and -h exit 0', async () => {
    const [flag, stray, value, sub, help, h] = await Promise.all([
      run(['--confg', '/etc/arvados/config.yml']),
      run(['--config', DEFAULTS, 'stray']),
      run(['--skip-legacy=maybe']),
      run(['check-config', '--bogus']),
      run(['--help']),
      run(['-h']),
    ]);
    for (const r of [flag, stray, value, sub]) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n').length, 2, `one line:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /Usage:/);
      assert.match(r.stderr, /\(try --help\)\n$/);
    }
    assert.equal(flag.stderr, "error: unknown option '--confg' (Did you mean --config?) (try --help)\n");
    assert.equal(stray.stderr, "error: unknown command 'stray' (try --help)\n");
    assert.match(value.stderr, /expected true or false, not "maybe"/);
    assert.match(sub.stderr, /unknown option '--bogus'/);
    for (const r of [help, h]) {
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: arvados-dispatch-cloud/);
    }
  });

  it("takes the reference's service flags, with one dash as Go writes them: -config, -version, -skip-legacy, -legacy-*-config, -pprof (warned about)", async () => {
    const version = await run(['-version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^arvados-dispatch-cloud \d+\.\d+\.\d+\S* \(node v\d+\.\d+\.\d+\)\n$/);
    const daemon = await run(['-config', DEFAULTS, '-skip-legacy', '-legacy-ws-config', '/etc/arvados/ws/ws.yml', '-pprof=:6060']);
    assert.equal(daemon.code, 1);
    assert.match(daemon.stderr, /warning: --pprof :6060: ignored/);
    assert.match(exitingLine(daemon.stderr).error, /Clusters\.xxxxx\.SystemRootToken: required to run the dispatcher, but empty/);
    const check = await run(['check-config', '-config=' + DEFAULTS, '-strict=false']);
    assert.equal(check.code, 0, check.stderr);
    // The reference's name for it works too.
    const configCheck = await run(['config-check', '-config', DEFAULTS, '-strict=false']);
    assert.deepEqual([configCheck.code, configCheck.stdout], [0, check.stdout]);
  });

  it('cloudtest takes -destroy-existing=true and -pause-before-destroy=false as the reference does (its own hint says -destroy-existing=true)', async () => {
    const parse = async (args: string[]) => {
      const program = buildProgram();
      let seen: Record<string, unknown> = {};
      const cloudtest = program.commands.find((c) => c.name() === 'cloudtest')!;
      // A refused option throws here instead of exiting the test process.
      cloudtest.exitOverride().configureOutput({ writeErr: () => undefined });
      cloudtest.action((opts: Record<string, unknown>) => {
        seen = opts;
      });
      await program.parseAsync(['node', 'cli', 'cloudtest', ...args]);
      return { destroyExisting: seen.destroyExisting, pauseBeforeDestroy: seen.pauseBeforeDestroy };
    };
    assert.deepEqual(await parse(['--destroy-existing=true', '--pause-before-destroy=false']), { destroyExisting: true, pauseBeforeDestroy: false });
    assert.deepEqual(await parse(['--destroy-existing', '--pause-before-destroy']), { destroyExisting: true, pauseBeforeDestroy: true });
    assert.deepEqual(await parse(['--destroy-existing=0']), { destroyExisting: false, pauseBeforeDestroy: undefined });
  });

  it("a word that names no subcommand is an unknown command, with the closest subcommand when there is one (not commander's \"too many arguments\", which the daemon's own action caused)", async () => {
    const refusal = async (args: string[]): Promise<{ code: string; exitCode: number; stderr: string }> => {
      const program = buildProgram();
      let stderr = '';
      // Subcommands copied the root's output settings when made: each is told.
      const capture = (c: Command): void => {
        c.configureOutput({ writeErr: (s) => (stderr += s) });
        c.commands.forEach(capture);
      };
      capture(program);
      const err = (await program.parseAsync(['node', 'cli', ...args]).then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      )) as CommanderError;
      assert.ok(err instanceof CommanderError, String(err));
      return { code: err.code, exitCode: err.exitCode, stderr };
    };
    assert.deepEqual(await refusal(['instance', 'list']), {
      code: 'commander.unknownCommand',
      exitCode: 2,
      stderr: "error: unknown command 'instance' (did you mean instances?) (try --help)\n",
    });
    assert.equal((await refusal(['--config', '/etc/arvados/config.yml', 'bogus'])).stderr, "error: unknown command 'bogus' (try --help)\n");
    assert.equal((await refusal(['configcheck'])).stderr, "error: unknown command 'configcheck' (did you mean config-check?) (try --help)\n");
    // A subcommand still takes no extra words.
    assert.match((await refusal(['check-config', 'extra'])).stderr, /^error: too many arguments for 'check-config'/);
    // Nor do instances and containers, whose default subcommand (list) would take a misspelt one as a word.
    assert.equal((await refusal(['instances', 'hlod', 'lame-1'])).stderr, "error: unknown command 'hlod' (did you mean hold?) (try --help)\n");
    assert.equal((await refusal(['containers', 'bogus'])).stderr, "error: unknown command 'bogus' (try --help)\n");
    assert.equal((await refusal(['instances', 'list', 'extra'])).stderr, "error: too many arguments for 'list' (try --help)\n");
  });

  it("every subcommand's --help lists the root's --config, --cluster and --settings as global options (all of them read the config), not --version", () => {
    const program = buildProgram();
    const all = (c: Command): Command[] => c.commands.flatMap((sub) => [sub, ...all(sub)]);
    const subcommands = all(program).filter((c) => c.name() !== 'help');
    assert.ok(subcommands.some((c) => c.name() === 'hold'), 'nested ones too');
    for (const sub of subcommands) {
      const global = sub.helpInformation().split('Global Options:\n')[1];
      assert.ok(global, `${sub.name()} --help has global options`);
      for (const flag of ['--config <file>', '--cluster <id>', '--settings <file>']) assert.ok(global.includes(flag), `${sub.name()} --help: ${flag}`);
      assert.doesNotMatch(global, /--version|--skip-legacy|--pprof/);
    }
    assert.doesNotMatch(program.helpInformation(), /Global Options/);
  });

  it('simulate --help points to files a source checkout has (the workload format, the config the workloads are written for), not to src/sim/workload.ts, and says when it exits 1', () => {
    const help = buildProgram()
      .commands.find((c) => c.name() === 'simulate')!
      .helpInformation()
      .replace(/\s+/g, ' ');
    assert.match(help, /bench\/workloads\/README\.md describes \(in a source checkout, not in the package\)/);
    assert.match(help, /written for --config bench\/sim-config\.yml/);
    assert.match(help, /exit 1 when --limit comes before every container is final/);
    assert.doesNotMatch(help, /src\/sim/);
  });

  it('goStyleArgs writes known long options with two dashes, and leaves short options, unknown names, values and what follows -- alone', () => {
    const names = new Set(['--config', '--strict', '--help']);
    assert.deepEqual(goStyleArgs(['node', 'cli', '-config', '-x', '-strict=false', '-h', '--config', 'f', '-nope', '--', '-config'], names), [
      'node',
      'cli',
      '--config',
      '-x',
      '--strict=false',
      '-h',
      '--config',
      'f',
      '-nope',
      '--',
      '-config',
    ]);
    // Every long option of the real program is known, subcommands' included.
    const program = buildProgram();
    assert.deepEqual(goStyleArgs(['node', 'cli', 'cloudtest', '-pause-before-destroy', '-instance-set-id', 'x'], new Set(program.commands.flatMap((c) => c.options.map((o) => o.long!)))).slice(2), [
      'cloudtest',
      '--pause-before-destroy',
      '--instance-set-id',
      'x',
    ]);
  });

  it('reads the config path from ARVADOS_CONFIG when --config is not given', async () => {
    const r = await run([], { ARVADOS_CONFIG: DEFAULTS });
    assert.equal(r.code, 1);
    assert.match(exitingLine(r.stderr).error, /Clusters\.xxxxx\.SystemRootToken/);
  });

  it('demo (npm start) runs the dispatcher to a summary: every container final, no VM left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-demo-'));
    const log = join(dir, 'demo.log');
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run(['demo', '--containers', '12', '--seed', '3', '--log', log]);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(-3000));
      assert.ok(r.stdout.includes(`dispatcher logs: ${log}`), 'the demo names the log file it was given');
      assert.ok(readFileSync(log, 'utf8').includes('"msg":'), "the dispatcher's JSON log went to that file");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(r.stdout, /Finished in [\d.]+ s: 12 containers\./);
    // The example config injects rare crunch-run crashes (those end Cancelled with a reason), so
    // count outcomes rather than expect exact numbers; the unsatisfiable one is always there.
    const completed = Number(/completed: (\d+)/.exec(r.stdout)?.[1]);
    const cancelled = Number(/cancelled: (\d+)/.exec(r.stdout)?.[1]);
    assert.equal(completed + cancelled, 12);
    assert.ok(completed >= 9, r.stdout);
    assert.match(r.stdout, /1 x "constraints not satisfiable by any configured instance type" \(asks for more VCPUs/);
    assert.doesNotMatch(r.stdout, /NOT FINISHED/);
    assert.match(r.stdout, /VMs created: [1-9]\d*.*; left running: 0/);
    assert.match(r.stdout, /Queue wait \(queued -> running\): p50 [\d.]+ s, p95 [\d.]+ s, over \d+ containers/);
    const { cluster } = loadConfigFile(join(REPO, 'config.example.yml'));
    assert.ok(!r.stdout.includes(cluster.SystemRootToken) && !r.stdout.includes(cluster.ManagementToken));
  });

  it("logs the config's warnings (an unknown key, with its file and line) before the exiting line, as JSON lines on stderr", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-warnings-'));
    try {
      const config = join(dir, 'config.yml');
      writeFileSync(config, 'Clusters:\n  zzzzz:\n    NoSuchKey: 1\n');
      const r = await run(['--config', config]);
      assert.equal(r.code, 1);
      const lines = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string });
      const warning = lines.findIndex((l) => l.level === 'warning' && l.msg === `${config}: line 3: Clusters.zzzzz.NoSuchKey: unknown key`);
      assert.ok(warning >= 0, r.stderr);
      assert.ok(warning < lines.length - 1);
      exitingLine(r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the exiting line's error names every problem in one line, joined by '; ', as the reference's", async () => {
    const r = await run(['--config', DEFAULTS]);
    const { error } = exitingLine(r.stderr);
    assert.doesNotMatch(error, /\n/);
    assert.match(error, /Clusters\.xxxxx\.SystemRootToken: required to run the dispatcher, but empty; \S+: line \d+: Clusters\.xxxxx\./);
  });

  it('boolean options take every spelling Go\'s strconv.ParseBool takes, and nothing else', () => {
    const strict = buildProgram()
      .commands.find((c) => c.name() === 'check-config')!
      .options.find((o) => o.long === '--strict')!;
    for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True']) assert.equal(strict.parseArg!(v, undefined), true, v);
    for (const v of ['0', 'f', 'F', 'false', 'FALSE', 'False']) assert.equal(strict.parseArg!(v, undefined), false, v);
    for (const v of ['yes', 'on', 'tRUE', '']) assert.throws(() => strict.parseArg!(v, undefined), /expected true or false/, v);
  });

  it('count and seed options take whole numbers only', () => {
    const containers = buildProgram()
      .commands.find((c) => c.name() === 'demo')!
      .options.find((o) => o.long === '--containers')!;
    assert.equal(containers.parseArg!('12', undefined), 12);
    assert.equal(containers.parseArg!('0', undefined), 0);
    for (const v of ['1.5', '-1', 'ten', '1e400']) assert.throws(() => containers.parseArg!(v, undefined), /--containers wants a whole number/, v);
  });

  it("usageErrorLine: commander's message and suggestion lines, however many, become one line with the hint", () => {
    assert.equal(usageErrorLine("error: unknown option '--confg'\n(Did you mean --config?)\n"), "error: unknown option '--confg' (Did you mean --config?) (try --help)\n");
    assert.equal(usageErrorLine('error: a\n  b\n\nc\n'), 'error: a b c (try --help)\n');
  });
});

describe('the installed command (bin/arvados-dispatch-cloud.mjs) on an older Node.js', function () {
  this.timeout(20_000);
  /** Runs the command as if node were `version`. */
  function runAs(version: string): Promise<{ code: number; stderr: string }> {
    const pretend = `data:text/javascript,Object.defineProperty(process.versions,"node",{value:"${version}"})`;
    return new Promise((resolve) => {
      execFile(process.execPath, ['--import', pretend, 'bin/arvados-dispatch-cloud.mjs', '--version'], { cwd: REPO }, (err, _stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stderr });
      });
    });
  }

  for (const version of ['18.20.8', '20.18.3']) {
    it(`refuses Node.js ${version} with exit status 2, saying which node it found`, async () => {
      const r = await runAs(version);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr, `arvados-dispatch-cloud: needs Node.js 20.19 or newer, and ${process.execPath} is ${version}\n`);
    });
  }
  for (const version of ['20.19.0', '22.0.0']) {
    it(`goes on with Node.js ${version}`, async () => {
      const r = await runAs(version);
      assert.doesNotMatch(r.stderr, /needs Node\.js/);
    });
  }
});
