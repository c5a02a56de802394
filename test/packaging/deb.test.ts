/**
 * `npm run package` end to end: the .deb is built (scripts/package-deb.mjs,
 * gzip instead of xz to save the test half a minute), lintian finds no
 * errors in it (its warnings are printed), its control fields and files are
 * where an operator and the reference's package expect them, and its command,
 * unpacked into a temporary root, runs with the package's own node_modules;
 * and, where a systemd machine can boot (root, systemd-nspawn), installed
 * there with dpkg, it runs as its unit under the sandbox drop-in.
 *
 * dpkg-deb is part of dpkg; without it the whole suite skips. lintian comes
 * from `npm pretest` (scripts/ensure-lintian.mjs); without it only its check
 * skips, saying why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type pg from 'pg';
import { waitFor } from '../cloud/conformance.js';
import { runCommand } from '../fixtures/command.js';
import { type VmCrunchRun, vmCrunchRun } from '../fixtures/crunch-run-stand-in.js';
import { lameDaemonFixture, type LameDaemonFixture } from '../fixtures/daemon-config.js';
import { silentServer } from '../fixtures/listen.js';
import { bootOrSkip, type NspawnMachine } from '../fixtures/nspawn.js';
import { TestPostgres } from '../fixtures/postgres.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const LINTIAN = '/usr/bin/lintian';
const DOC = 'usr/share/doc/arvados-dispatch-cloud-ts';
const LIB = 'usr/lib/arvados-dispatch-cloud';

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
    const built = await runCommand(process.execPath, ['scripts/package-deb.mjs', '--out', dir], { cwd: REPO, env: { ...process.env, DEB_COMPRESSION: 'gzip' } });
    assert.equal(built.code, 0, `package-deb failed:\n${built.stderr}`);
    deb = built.stdout.trim();
    assert.ok(existsSync(deb), deb);
    root = join(dir, 'root');
    const x = await runCommand('dpkg-deb', ['-x', deb, root]);
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
    const r = await runCommand(LINTIAN, ['--tag-display-limit', '0', deb]);
    const tags = r.stdout.split('\n').filter((l) => /^[EWIPX]: /.test(l));
    for (const w of tags.filter((l) => l.startsWith('W: '))) console.log(`      lintian ${w}`);
    assert.deepEqual(tags.filter((l) => l.startsWith('E: ')), [], `lintian errors:\n${r.stdout}${r.stderr}`);
    // Exit 0 with no errors, 1 when it found some, 2 when it could not run.
    assert.equal(r.code, 0, `lintian exited ${r.code}:\n${r.stdout}${r.stderr}`);
  });

  it('takes the reference package\'s place: Conflicts, Replaces and Provides arvados-dispatch-cloud', async () => {
    const field = async (name: string): Promise<string> => (await runCommand('dpkg-deb', ['-f', deb, name])).stdout.trim();
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
    const help = await runCommand(process.execPath, [bin, '--help'], opts);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /check-config/);
    const check = await runCommand(process.execPath, [
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
    const r = await runCommand(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'loaded');
  });

  it('finds the status page and its charts\' files (uPlot from its own node_modules) in the unpacked tree', async () => {
    const http = join(root, LIB, 'dist/src/http');
    const script = `const { STATUS_PAGE_HTML } = await import(${JSON.stringify(join(http, 'status-page.js'))});
      const { STATUS_ASSETS } = await import(${JSON.stringify(join(http, 'status-assets.js'))});
      console.log(JSON.stringify({ page: STATUS_PAGE_HTML.length, assets: [...STATUS_ASSETS].map(([p, a]) => [p, a.body.length]) }));`;
    const r = await runCommand(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: cleanEnv() });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { page: number; assets: Array<[string, number]> };
    assert.ok(out.page > 1000);
    assert.deepEqual(out.assets.map(([p]) => p), [
      '/status/shared.js', '/status/api.js', '/status/totals.js', '/status/tables.js', '/status/detail.js', '/status/page.js',
      '/status/charts.js', '/status/charts.css', '/status/uPlot.iife.min.js', '/status/uPlot.min.css',
    ]);
    for (const [p, n] of out.assets) assert.ok(n > 500, `${p}: ${n} bytes`);
  });

  describe('under a running systemd (a throwaway machine: test/fixtures/nspawn.ts)', () => {
    let machine: NspawnMachine | undefined;
    let fixture: LameDaemonFixture | undefined;
    const UNIT = 'arvados-dispatch-cloud';

    before(async function () {
      machine = await bootOrSkip('adc-deb-systemd', this);
      const node = await machine.run('dpkg-query', ['-W', '-f', '${Version}', 'nodejs']);
      if (node.code !== 0) {
        console.log('      skipped: this host\'s node is not Debian\'s nodejs package, which the package depends on');
        this.skip();
      }
      fixture = await lameDaemonFixture('adc-deb-systemd');
      writeFileSync(join(machine.root, 'root/package.deb'), readFileSync(deb));
    });
    after(async () => {
      await machine?.destroy();
      await fixture?.cleanup();
    });

    const show = (...props: string[]) => machine!.show(UNIT, ...props);
    const journal = (invocation?: string) => machine!.journal(UNIT, invocation);
    /** Installs the package's sandbox drop-in, as the guide says to. */
    async function installSandbox(): Promise<void> {
      const dropIns = join(machine!.root, 'etc/systemd/system', `${UNIT}.service.d`);
      mkdirSync(dropIns, { recursive: true });
      writeFileSync(join(dropIns, 'sandbox.conf'), readFileSync(join(machine!.root, DOC, 'examples/sandbox.conf')));
      assert.equal((await machine!.run('systemctl', ['daemon-reload'])).code, 0);
    }

    it('installs, starts with the sandbox drop-in once the queue and the cloud are read, dispatches, restarts on upgrade, stops on SIGTERM, stays stopped after a usage error or SIGQUIT, and is removed', async () => {
      const m = machine!;
      const installed = await m.run('dpkg', ['-i', '/root/package.deb']);
      assert.equal(installed.code, 0, installed.stdout + installed.stderr);
      // Installed and enabled; without /etc/arvados/config.yml the unit's assertion keeps it from starting.
      assert.equal((await m.run('systemctl', ['is-enabled', UNIT])).stdout.trim(), 'enabled');
      assert.equal((await show('ActiveState')).ActiveState, 'inactive');

      const uuids = [1, 2, 3].map((p) => fixture!.controller.addContainer({ priority: p, runtime_constraints: { vcpus: 1, ram: 1 << 30 } }).uuid);
      mkdirSync(join(m.root, 'etc/arvados'), { recursive: true });
      writeFileSync(join(m.root, 'etc/arvados/config.yml'), readFileSync(fixture!.config));
      await installSandbox();

      // Type=notify: start returns once READY=1 came, with the summary as the status.
      const started = await m.run('systemctl', ['start', UNIT]);
      assert.equal(started.code, 0, `${started.stderr}\n${await journal()}`);
      const up = await show('ActiveState', 'StatusText', 'ProtectSystem', 'NoNewPrivileges', 'DropInPaths');
      assert.equal(up.ActiveState, 'active');
      assert.match(up.StatusText!, /^\d+ containers? .*, \d+ VMs?/);
      assert.deepEqual([up.ProtectSystem, up.NoNewPrivileges], ['full', 'yes'], 'the sandbox applies');
      assert.match(up.DropInPaths!, /sandbox\.conf/);
      await waitFor('the containers to complete', () => uuids.every((u) => fixture!.controller.get(u)?.state === 'Complete'), 90_000);
      // journald takes each line's priority from the daemon (a <N> it removes): -p warning
      // shows the warnings and errors alone, and every line reads as the reference's JSON.
      const run = (await show('InvocationID')).InvocationID!;
      const lines = (await journal(run)).trim().split('\n');
      const warnings = (await m.run('journalctl', ['-u', UNIT, `_SYSTEMD_INVOCATION_ID=${run}`, '-p', 'warning', '-o', 'cat', '--no-pager'])).stdout.trim().split('\n');
      assert.ok(warnings.some((l) => l.includes('"msg":"no DispatchPrivateKey configured')), warnings.join('\n'));
      assert.deepEqual(warnings, lines.filter((l) => /^\{"time":"[^"]+","level":"(warning|error)"/.test(l)));
      assert.ok(lines.length > warnings.length && lines.every((l) => l.startsWith('{"time":')), lines.join('\n'));

      // An upgrade (here the same version again) restarts the running unit with the new files.
      const before = (await show('MainPID')).MainPID;
      const upgraded = await m.run('dpkg', ['-i', '/root/package.deb']);
      assert.equal(upgraded.code, 0, upgraded.stdout + upgraded.stderr);
      await waitFor('a restart', async () => {
        const now = await show('ActiveState', 'MainPID');
        return now.ActiveState === 'active' && now.MainPID !== before;
      }, 30_000, 200);

      const stopped = await m.run('systemctl', ['stop', UNIT]);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.deepEqual(await show('ActiveState', 'Result'), { ActiveState: 'inactive', Result: 'success' });
      assert.match(await journal(), /"msg":"stopping: VMs and containers are left as they are for the next start to adopt"/);

      // A usage error (exit status 2) is not retried: RestartPreventExitStatus=2.
      writeFileSync(join(m.root, 'etc/arvados/environment'), 'EXTRA_OPTS=--no-such-flag\n');
      const refused = await m.run('systemctl', ['start', UNIT]);
      assert.notEqual(refused.code, 0);
      await new Promise((r) => setTimeout(r, 3_000));
      assert.deepEqual(await show('ActiveState', 'ExecMainStatus', 'NRestarts'), { ActiveState: 'failed', ExecMainStatus: '2', NRestarts: '0' });
      assert.match(await journal(), /unknown option '--no-such-flag'/);
      assert.match((await m.run('journalctl', ['-u', UNIT, '-p', 'err', '-o', 'cat', '--no-pager'])).stdout, /^error: unknown option '--no-such-flag'/m, 'an error in the journal');

      // SIGQUIT: a diagnostic report, exit status 2, and not restarted either.
      writeFileSync(join(m.root, 'etc/arvados/environment'), '');
      assert.equal((await m.run('systemctl', ['start', UNIT])).code, 0);
      assert.equal((await m.run('systemctl', ['kill', '--kill-whom=main', '--signal=SIGQUIT', UNIT])).code, 0);
      await waitFor('the unit to fail after SIGQUIT', async () => (await show('ActiveState')).ActiveState === 'failed', 20_000, 200);
      assert.deepEqual(await show('ExecMainStatus', 'NRestarts'), { ExecMainStatus: '2', NRestarts: '0' });
      assert.match(await journal(), /SIGQUIT: writing a diagnostic report to stderr/);

      // Removal stops and disables it, and takes the command away.
      assert.equal((await m.run('systemctl', ['start', UNIT])).code, 0);
      const removed = await m.run('dpkg', ['-r', 'arvados-dispatch-cloud-ts']);
      assert.equal(removed.code, 0, removed.stdout + removed.stderr);
      assert.equal((await show('ActiveState')).ActiveState, 'inactive');
      assert.ok(!existsSync(join(m.root, 'usr/bin/arvados-dispatch-cloud')));
    });

    it('installing queues the start, not waiting for the daemon to be ready: with a controller that never answers, dpkg -i returns and the unit is starting', async () => {
      const m = machine!;
      // A controller that takes connections and never answers: the daemon cannot finish its first poll.
      const silent = await silentServer();
      const silentURL = `http://127.0.0.1:${silent.port}`;
      try {
        mkdirSync(join(m.root, 'etc/arvados'), { recursive: true });
        writeFileSync(join(m.root, 'etc/arvados/config.yml'), readFileSync(fixture!.config, 'utf8').replaceAll(fixture!.controller.url, silentURL));
        const started = Date.now();
        const installed = await m.run('dpkg', ['-i', '/root/package.deb']);
        const took = Date.now() - started;
        assert.equal(installed.code, 0, installed.stdout + installed.stderr);
        // Waiting would take until TimeoutStartSec (300 s); unpacking takes seconds.
        assert.ok(took < 60_000, `dpkg -i took ${took} ms`);
        // The daemon says what it waits for once it has read its config; it stays starting.
        await waitFor('the status', async () => /^starting: waiting for the first queue poll/.test((await show('StatusText')).StatusText!), 20_000, 200);
        assert.equal((await show('ActiveState')).ActiveState, 'activating');
      } finally {
        await m.run('dpkg', ['-r', 'arvados-dispatch-cloud-ts']);
        silent.close();
      }
    });

    /** A local stand-in for a cloud's API whose instances are SSH servers on 127.0.0.N:`sshPort`. */
    interface CloudStandIn {
      url: string;
      start(): Promise<void>;
      stop(): Promise<void>;
      /** The live instances' Arvados tags (ec2: the instance's tags; gce: its `arvados-tags` metadata). */
      tags(): Array<Record<string, string>>;
    }
    const clouds: Array<{ driver: string; sdk: string; make: (sshPort: number, crunchRun: VmCrunchRun) => Promise<CloudStandIn>; params: (url: string) => string }> = [
      {
        driver: 'ec2',
        sdk: 'the AWS SDK',
        make: async (sshPort, crunchRun) => {
          const { FakeEC2 } = await import('../fixtures/ec2/server.js');
          const f = new FakeEC2({ sshHosts: { port: sshPort, authorizedKeysFrom: 'keypair', extraCommands: (ctx, i) => crunchRun.handle(ctx, i.id) } });
          return { get url() { return f.url; }, start: () => f.start(), stop: () => f.stop(), tags: () => f.instances().filter((i) => i.state !== 'terminated').map((i) => i.tags) };
        },
        params: (url) => `Endpoint: ${url}\nRegion: us-east-1\nAccessKeyID: AKIDSANDBOXTEST\nSecretAccessKey: sandbox-test-secret\nSubnetID: subnet-one`,
      },
      {
        driver: 'gce',
        sdk: '@google-cloud/compute',
        make: async (sshPort, crunchRun) => {
          const { FakeGCE } = await import('../fixtures/gce/server.js');
          const f = new FakeGCE({ sshHosts: { port: sshPort, extraCommands: (ctx, i) => crunchRun.handle(ctx, i.id) } });
          return { get url() { return f.url; }, start: () => f.start(), stop: () => f.stop(), tags: () => f.instances().filter((i) => !i.deleted).map((i) => JSON.parse(i.metadata['arvados-tags'] ?? '{}') as Record<string, string>) };
        },
        params: (url) => `Endpoint: ${url}\nProject: sandbox-project\nZone: us-central1-a`,
      },
    ];
    for (const cloud of clouds) {
      it(`with the ${cloud.driver} driver under the sandbox: creates a VM through ${cloud.sdk}, runs a container on it over SSH, and destroys it once idle`, async () => {
        const m = machine!;
        // No config yet: the install does not start it with another test's.
        rmSync(join(m.root, 'etc/arvados/config.yml'), { force: true });
        const installed = await m.run('dpkg', ['-i', '/root/package.deb']);
        assert.equal(installed.code, 0, installed.stdout + installed.stderr);
        const sshPort = 20_000 + Math.floor(Math.random() * 20_000);
        // The VMs' crunch-run runs on this host, outside the machine, as it would on a VM.
        const crunchRun = vmCrunchRun(mkdtempSync(join(tmpdir(), 'adc-deb-vms-')));
        const standIn = await cloud.make(sshPort, crunchRun);
        await standIn.start();
        try {
          const key = generateSshKeyPair().private;
          const head = readFileSync(fixture!.config, 'utf8').split('    Containers:\n')[0]!;
          const indented = (text: string, n: number) => text.trim().split('\n').map((l) => `${' '.repeat(n)}${l}`).join('\n');
          mkdirSync(join(m.root, 'etc/arvados'), { recursive: true });
          writeFileSync(
            join(m.root, 'etc/arvados/config.yml'),
            `${head}    Containers:
      DispatchPrivateKey: |
${indented(key, 8)}
      CloudVMs:
        Driver: ${cloud.driver}
        ImageID: test-image
        SSHPort: "${sshPort}"
        PollInterval: 1s
        SyncInterval: 1s
        ProbeInterval: 1s
        TimeoutIdle: 3s
        DriverParameters:
${indented(cloud.params(standIn.url), 10)}
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
        ProviderType: ${cloud.driver === 'ec2' ? 't3.medium' : 'e2-medium'}
`,
          );
          await installSandbox();
          const { uuid } = fixture!.controller.addContainer({ priority: 1, runtime_constraints: { vcpus: 1, ram: 1 << 30 }, command: ['sleep', '2'] });
          const started = await m.run('systemctl', ['start', UNIT]);
          assert.equal(started.code, 0, `${started.stderr}\n${await journal()}`);
          assert.match((await show('DropInPaths')).DropInPaths!, /sandbox\.conf/);
          const run = (await show('InvocationID')).InvocationID!;
          await waitFor('a VM', () => standIn.tags().length > 0, 60_000, 200);
          const made = standIn.tags();
          assert.equal(made.length, 1, `${JSON.stringify(made)}\n${await journal(run)}`);
          assert.equal(made[0]!.ArvadosInstanceType, 'small', JSON.stringify(made[0]));
          assert.match(made[0]!.ArvadosInstanceSetID ?? '', /^[0-9a-f]{32}$/, JSON.stringify(made[0]));
          // Probed and started over SSH (crunch-run --detach under sudo), run by the VM's
          // crunch-run to Complete, then idle past TimeoutIdle and destroyed through the SDK.
          await waitFor('the container to complete', () => fixture!.controller.get(uuid)?.state === 'Complete', 60_000, 200).catch(async (err: Error) =>
            assert.fail(`${err.message}: ${JSON.stringify(fixture!.controller.history(uuid))}\n${await journal(run)}`),
          );
          assert.deepEqual(fixture!.controller.history(uuid).map((h) => h.state), ['Queued', 'Locked', 'Running', 'Complete']);
          await waitFor('the idle VM to be destroyed', () => standIn.tags().length === 0, 60_000, 200).catch(async (err: Error) =>
            assert.fail(`${err.message}\n${await journal(run)}`),
          );
          const log = await journal(run);
          assert.match(log, /"msg":"boot probe succeeded"/);
          assert.doesNotMatch(log, /"level":"(error|warn)"/, log);
          assert.equal((await show('NRestarts')).NRestarts, '0');
        } finally {
          await m.run('dpkg', ['-r', 'arvados-dispatch-cloud-ts']);
          await standIn.stop();
          crunchRun.cleanup();
        }
      });
    }

    it('under the dispatch lock with the sandbox: ready at once, names the lock\'s holder in its status, and once let go takes the lock through PostgreSQL\'s Unix socket and dispatches', async () => {
      const m = machine!;
      rmSync(join(m.root, 'etc/arvados/config.yml'), { force: true });
      const installed = await m.run('dpkg', ['-i', '/root/package.deb']);
      assert.equal(installed.code, 0, installed.stdout + installed.stderr);
      // The server runs on this host. Its socket is also in the machine's /srv/postgresql, bound
      // over /run/postgresql there: where Debian's server puts it, and what the config names.
      const server = new TestPostgres();
      server.alsoListenIn(join(m.root, 'srv/postgresql'));
      await server.start();
      let holder: pg.Client | undefined;
      try {
        assert.equal((await m.run('mkdir', ['-p', '/run/postgresql'])).code, 0);
        const bound = await m.run('mount', ['--bind', '/srv/postgresql', '/run/postgresql']);
        assert.equal(bound.code, 0, bound.stderr);
        holder = await server.client();
        assert.equal((await holder.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(10005) AS locked')).rows[0]!.locked, true);
        const { uuid } = fixture!.controller.addContainer({ priority: 1, runtime_constraints: { vcpus: 1, ram: 1 << 30 }, command: ['sleep', '1'] });
        // No sslmode: the default (require) does not apply over a Unix socket.
        mkdirSync(join(m.root, 'etc/arvados'), { recursive: true });
        writeFileSync(
          join(m.root, 'etc/arvados/config.yml'),
          readFileSync(fixture!.config, 'utf8').replace(
            '    Containers:\n',
            `    PostgreSQL:\n      Connection:\n        host: /var/run/postgresql\n        port: "${server.port}"\n        user: ${server.user}\n        password: ${server.password}\n        dbname: postgres\n    Containers:\n`,
          ),
        );
        await installSandbox();
        // Active at once (READY=1), though another holds the lock; the status says who.
        const started = await m.run('systemctl', ['start', UNIT]);
        assert.equal(started.code, 0, `${started.stderr}\n${await journal()}`);
        const run = (await show('InvocationID')).InvocationID!;
        assert.equal((await show('ActiveState')).ActiveState, 'active');
        await waitFor(
          'the holder in the status',
          async () => /^not dispatching: waiting for the dispatch lock: another process holds it \(127\.0\.0\.1:\d+\)/.test((await show('StatusText')).StatusText!),
          20_000,
          200,
        ).catch(async (err: Error) => assert.fail(`${err.message}: ${(await show('StatusText')).StatusText}\n${await journal(run)}`));
        assert.equal(fixture!.controller.get(uuid)?.state, 'Queued');

        await holder.end();
        holder = undefined;
        await waitFor('the container to complete', () => fixture!.controller.get(uuid)?.state === 'Complete', 60_000, 200).catch(async (err: Error) =>
          assert.fail(`${err.message}\n${await journal(run)}`),
        );
        await waitFor('the summary in the status', async () => /^\d+ containers?.*, \d+ VMs?/.test((await show('StatusText')).StatusText!), 20_000, 200);
        // The daemon's session holds the lock, and came through the socket (no client address).
        const sessions = await server.query<{ client_addr: string | null; application_name: string }>(
          "SELECT a.client_addr, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.objid = 10005 AND l.granted",
        );
        assert.equal(sessions.length, 1, JSON.stringify(sessions));
        assert.equal(sessions[0]!.client_addr, null, JSON.stringify(sessions));
        assert.doesNotMatch(await journal(run), /"level":"error"/);
      } finally {
        await holder?.end();
        await m.run('dpkg', ['-r', 'arvados-dispatch-cloud-ts']);
        await m.run('umount', ['/run/postgresql']);
        await server.destroy();
      }
    });

    it('takes the place of a package in the reference\'s place with one apt command, and gives it back with one, a dispatcher running after each', async () => {
      const m = machine!;
      // A stand-in for the reference's package: its name, its two paths, and maintainer
      // scripts that do what the reference's do with the unit (enable and start on install,
      // stop and disable on removal); its "daemon" only sleeps.
      const tree = join(m.root, 'root/stand-in');
      mkdirSync(join(tree, 'DEBIAN'), { recursive: true });
      mkdirSync(join(tree, 'usr/bin'), { recursive: true });
      mkdirSync(join(tree, 'lib/systemd/system'), { recursive: true });
      writeFileSync(join(tree, 'DEBIAN/control'), 'Package: arvados-dispatch-cloud\nVersion: 3.1.0-1\nArchitecture: all\nMaintainer: tests <tests@example.com>\nDescription: stand-in for the reference dispatcher\'s package\n');
      const unitName = `${UNIT}.service`;
      writeFileSync(join(tree, 'DEBIAN/postinst'), `#!/bin/sh\nset -e\nif [ "$1" = configure ] && [ -d /run/systemd/system ]; then\n  systemctl daemon-reload\n  if systemctl is-enabled --quiet ${unitName}; then systemctl try-restart ${unitName} || true; else systemctl enable ${unitName} || true; systemctl start ${unitName} || true; fi\nfi\n`, { mode: 0o755 });
      writeFileSync(join(tree, 'DEBIAN/prerm'), `#!/bin/sh\nset -e\nif [ "$1" = remove ] && [ -d /run/systemd/system ]; then systemctl stop ${unitName} || true; systemctl disable ${unitName} || true; fi\n`, { mode: 0o755 });
      writeFileSync(join(tree, 'usr/bin/arvados-dispatch-cloud'), '#!/bin/sh\nexec sleep infinity\n', { mode: 0o755 });
      writeFileSync(join(tree, 'lib/systemd/system', unitName), '[Unit]\nDescription=stand-in dispatcher\n[Service]\nExecStart=/usr/bin/arvados-dispatch-cloud\n[Install]\nWantedBy=multi-user.target\n');
      // Ours starts on install: with the lame cloud's config, as in the first test.
      mkdirSync(join(m.root, 'etc/arvados'), { recursive: true });
      writeFileSync(join(m.root, 'etc/arvados/config.yml'), readFileSync(fixture!.config));
      const built = await m.run('dpkg-deb', ['--build', '--root-owner-group', '/root/stand-in', '/root/stand-in.deb']);
      assert.equal(built.code, 0, built.stderr);
      /** Which program the running unit's main process is. */
      const apt = async (deb: string): Promise<string> => {
        const r = await m.run('apt-get', ['install', '-y', deb]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        return r.stdout;
      };
      const installed = async (pkg: string) => (await m.run('dpkg-query', ['-W', '-f', '${Status}', pkg])).stdout.includes('install ok installed');

      await apt('/root/stand-in.deb');
      await m.waitForMainProgram(UNIT, 'sleep');
      // Ours: the stand-in is removed (its prerm stops and disables its unit), ours enabled and started.
      assert.match(await apt('/root/package.deb'), /Removing arvados-dispatch-cloud \(3\.1\.0-1\)/);
      assert.equal(await installed('arvados-dispatch-cloud'), false);
      await m.waitForMainProgram(UNIT, 'arvados-dispatc');
      assert.match((await show('StatusText')).StatusText!, /^\d+ containers?.*, \d+ VMs?/);
      // And back.
      assert.match(await apt('/root/stand-in.deb'), /Removing arvados-dispatch-cloud-ts/);
      assert.equal(await installed('arvados-dispatch-cloud-ts'), false);
      await m.waitForMainProgram(UNIT, 'sleep');
    });
  });
});
