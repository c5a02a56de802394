/**
 * `npm run package` end to end: the .deb is built (scripts/package-deb.mjs,
 * gzip instead of xz to save the test half a minute), lintian finds no
 * errors in it (its warnings are printed), its control fields and files are
 * where an operator and the reference's package expect them, and its command,
 * unpacked into a temporary root, runs with the package's own node_modules.
 *
 * dpkg-deb is part of dpkg; without it the whole suite skips. lintian comes
 * from `npm pretest` (scripts/ensure-lintian.mjs); without it only its check
 * skips, saying why.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LINTIAN = '/usr/bin/lintian';
const DOC = 'usr/share/doc/arvados-dispatch-cloud-ts';
const LIB = 'usr/lib/arvados-dispatch-cloud';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

/** The environment of a host without this checkout: no NODE_OPTIONS loader, no NODE_PATH. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_PATH;
  return env;
}

describe('Debian package (npm run package)', function () {
  // tsc, npm ci --omit=dev from the cache and dpkg-deb: about a minute on a
  // quiet machine, several on a busy one.
  this.timeout(10 * 60_000);
  let dir: string;
  let deb: string;
  let root: string;

  before(async function () {
    if (spawnSync('dpkg-deb', ['--version'], { stdio: 'ignore' }).error) {
      console.log('      skipped: dpkg-deb is missing (it comes with dpkg: apt-get install dpkg)');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'adc-deb-test-'));
    const built = await run(process.execPath, ['scripts/package-deb.mjs', '--out', dir], { cwd: REPO, env: { ...process.env, DEB_COMPRESSION: 'gzip' } });
    assert.equal(built.code, 0, `package-deb failed:\n${built.stderr}`);
    deb = built.stdout.trim();
    assert.ok(existsSync(deb), deb);
    root = join(dir, 'root');
    const x = await run('dpkg-deb', ['-x', deb, root]);
    assert.equal(x.code, 0, x.stderr);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lintian reports no errors (warnings listed)', async function () {
    if (!existsSync(LINTIAN)) {
      console.log(`      skipped: ${LINTIAN} is missing (npm pretest installs it when run as root with apt-get)`);
      this.skip();
    }
    const r = await run(LINTIAN, ['--tag-display-limit', '0', deb]);
    const tags = r.stdout.split('\n').filter((l) => /^[EWIPX]: /.test(l));
    for (const w of tags.filter((l) => l.startsWith('W: '))) console.log(`      lintian ${w}`);
    assert.deepEqual(tags.filter((l) => l.startsWith('E: ')), [], `lintian errors:\n${r.stdout}${r.stderr}`);
    // Exit 0 with no errors, 1 when it found some, 2 when it could not run.
    assert.equal(r.code, 0, `lintian exited ${r.code}:\n${r.stdout}${r.stderr}`);
  });

  it('takes the reference package\'s place: Conflicts, Replaces and Provides arvados-dispatch-cloud', async () => {
    const field = async (name: string): Promise<string> => (await run('dpkg-deb', ['-f', deb, name])).stdout.trim();
    assert.equal(await field('Package'), 'arvados-dispatch-cloud-ts');
    assert.equal(await field('Architecture'), 'all');
    assert.match(await field('Depends'), /^nodejs \(>= 20\.19\)$/);
    for (const f of ['Conflicts', 'Replaces', 'Provides']) assert.equal(await field(f), 'arvados-dispatch-cloud', f);
    const version = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version as string;
    assert.equal(await field('Version'), `${version}-1`);
  });

  it('puts the command on the PATH, the unit where the reference\'s is, and the examples, copyright and changelog under /usr/share/doc', () => {
    const bin = join(root, 'usr/bin/arvados-dispatch-cloud');
    assert.ok(lstatSync(bin).isSymbolicLink());
    assert.equal(readlinkSync(bin), `../lib/arvados-dispatch-cloud/bin/arvados-dispatch-cloud.mjs`);
    assert.equal(
      readFileSync(join(root, 'lib/systemd/system/arvados-dispatch-cloud.service'), 'utf8'),
      readFileSync(join(REPO, 'systemd/arvados-dispatch-cloud.service'), 'utf8'),
    );
    for (const f of ['copyright', 'changelog.Debian.gz', 'operators.md', 'examples/config.example.yml', 'examples/dispatch-cloud.example.yml', 'examples/sandbox.conf']) {
      assert.ok(existsSync(join(root, DOC, f)), f);
    }
    assert.match(readFileSync(join(root, DOC, 'copyright'), 'utf8'), /^ {2}ssh2 \S+ +MIT$/m);
  });

  it('installs the manual page, made from the command\'s help and naming where the guide is', () => {
    const page = gunzipSync(readFileSync(join(root, 'usr/share/man/man1/arvados-dispatch-cloud.1.gz'))).toString('utf8');
    assert.match(page, /^\.TH "ARVADOS\\\-DISPATCH\\\-CLOUD" 1 "\d{4}\\\-\d\d\\\-\d\d" /);
    for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'OPTIONS', 'COMMANDS', 'FILES', 'ENVIRONMENT', '"EXIT STATUS"']) assert.match(page, new RegExp(`^\\.SH ${section}$`, 'm'), section);
    assert.match(page, /^\.SS instances hold$/m);
    assert.ok(page.includes(`.B /${DOC.replace(/-/g, '\\-')}/\n`), 'names the doc directory');
  });

  it('ships compiled code and production dependencies only: no TypeScript, no tsx', () => {
    assert.ok(existsSync(join(root, LIB, 'dist/src/cli.js')));
    assert.ok(!existsSync(join(root, LIB, 'src')), 'no TypeScript sources');
    for (const dev of ['tsx', 'typescript', 'mocha', 'fast-check', 'playwright-core']) {
      assert.ok(!existsSync(join(root, LIB, 'node_modules', dev)), dev);
    }
    const ts = spawnSync('find', [join(root, LIB), '-name', '*.ts', '-o', '-name', '*.mts', '-o', '-name', '*.cts'], { encoding: 'utf8' });
    assert.equal(ts.stdout, '', 'TypeScript files in the package');
  });

  it('runs the unpacked command\'s --help and check-config on the example config, with its own node_modules', async () => {
    const bin = join(root, 'usr/bin/arvados-dispatch-cloud');
    const opts = { cwd: root, env: cleanEnv() };
    const help = await run(process.execPath, [bin, '--help'], opts);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /check-config/);
    const check = await run(process.execPath, [
      bin, 'check-config',
      '--config', join(root, DOC, 'examples/config.example.yml'),
      '--settings', join(root, DOC, 'examples/dispatch-cloud.example.yml'),
    ], opts);
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /^Clusters:\n {2}zzzzz:/m);
    assert.match(check.stdout, /"\[REDACTED\]"/);
  });

  it('loads every cloud driver from the unpacked tree (its dependencies survived the pruning)', async () => {
    const drivers = ['lame', 'loopback', 'ec2', 'gce'].map((d) => join(root, LIB, 'dist/drivers', d, 'index.js'));
    const script = `for (const f of ${JSON.stringify(drivers)}) await import(f); console.log('loaded');`;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'loaded');
  });

  it('finds the status page and its charts\' files (uPlot from its own node_modules) in the unpacked tree', async () => {
    const http = join(root, LIB, 'dist/src/http');
    const script = `const { STATUS_PAGE_HTML } = await import(${JSON.stringify(join(http, 'status-page.js'))});
      const { STATUS_ASSETS } = await import(${JSON.stringify(join(http, 'status-assets.js'))});
      console.log(JSON.stringify({ page: STATUS_PAGE_HTML.length, assets: [...STATUS_ASSETS].map(([p, a]) => [p, a.body.length]) }));`;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { page: number; assets: Array<[string, number]> };
    assert.ok(out.page > 1000);
    assert.deepEqual(out.assets.map(([p]) => p), [
      '/status/shared.js', '/status/api.js', '/status/totals.js', '/status/tables.js', '/status/detail.js', '/status/page.js',
      '/status/charts.js', '/status/charts.css', '/status/uPlot.iife.min.js', '/status/uPlot.min.css',
    ]);
    for (const [p, n] of out.assets) assert.ok(n > 500, `${p}: ${n} bytes`);
  });
});
