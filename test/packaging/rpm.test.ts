/**
 * `npm run package:rpm` end to end: the .rpm is built
 * (scripts/package-rpm.mjs), its dependencies, conflicts and files are what
 * dnf and an operator on the Red Hat family expect, rpmlint finds no errors
 * but the ones explained here; and, where a systemd machine can boot (root,
 * systemd-nspawn), dnf installs it there and its scriptlets run against a
 * running systemd: `dnf swap` with a stand-in for the reference's package
 * each way, `dnf reinstall`, `dnf install --allowerasing`, `dnf remove`, the
 * commands packaging/rpm/README.md gives.
 *
 * The machine is this Debian host's tree (test/fixtures/nspawn.ts) with an
 * rpm database of its own (/var/lib/rpm, as on Red Hat); what a Red Hat host
 * has installed (a shell, Node.js) is stood in for by small packages
 * (test/fixtures/rpm-stand-in.ts). rpmbuild, rpmlint and dnf come from
 * `npm pretest` (scripts/ensure-rpm.mjs); without rpmbuild the suite skips,
 * without the others their part does, each saying why.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../cloud/conformance.js';
import { runCommand } from '../fixtures/command.js';
import { lameDaemonFixture, type LameDaemonFixture } from '../fixtures/daemon-config.js';
import { silentServer } from '../fixtures/listen.js';
import { bootOrSkip, type NspawnMachine } from '../fixtures/nspawn.js';
import { buildStandInRpm, RPMBUILD } from '../fixtures/rpm-stand-in.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const RPMLINT = '/usr/bin/rpmlint';
const DNF = '/usr/bin/dnf';
const UNIT = 'arvados-dispatch-cloud';

/**
 * rpmlint's errors that say nothing about this package on the Red Hat family, each with why.
 * Any other error fails the test.
 */
const EXPLAINED: Record<string, string> = {
  'no-signature': 'packages are signed by whoever publishes them, with their own key (rpm --addsign)',
  'no-dependency-on': 'rpmlint reads the "-ts" of the name as a Tsonga language pack (locales-ts)',
  'env-script-interpreter': 'the command runs the node on PATH, as the .deb does (an operator may put a newer one in /usr/local/bin); nothing in node_modules is run as a script',
  'files-duplicated-waste': 'npm modules ship their own copies of the same licence texts and small files',
};

describe('RPM package (npm run package:rpm)', function () {
  this.timeout(10 * 60_000);
  let dir: string;
  let rpmFile: string;

  before(async function () {
    if (!existsSync(RPMBUILD)) {
      console.log(`      skipped: ${RPMBUILD} is missing (npm pretest installs Debian's rpm package as root: scripts/ensure-rpm.mjs)`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'adc-rpm-test-'));
    const built = await runCommand(process.execPath, ['scripts/package-rpm.mjs', '--out', dir], { cwd: REPO });
    assert.equal(built.code, 0, `package-rpm failed:\n${built.stderr}`);
    rpmFile = built.stdout.trim();
    assert.ok(existsSync(rpmFile), rpmFile);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `rpm -qp` of the built package, with `args`. */
  async function query(...args: string[]): Promise<string> {
    const r = await runCommand('rpm', ['-qp', ...args, rpmFile]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  }

  it('is noarch, needs Node.js 20.19 by nodejs(engine), and conflicts with and provides the reference\'s package', async () => {
    assert.equal(basename(rpmFile), 'arvados-dispatch-cloud-ts-0.1.0-1.noarch.rpm');
    assert.equal(await query('--qf', '%{NAME} %{VERSION}-%{RELEASE} %{ARCH} %{LICENSE}'), 'arvados-dispatch-cloud-ts 0.1.0-1 noarch AGPL-3.0-only');
    const requires = (await query('--requires')).split('\n').filter((l) => l !== '' && !l.startsWith('rpmlib('));
    assert.deepEqual([...new Set(requires)].sort(), ['/bin/sh', 'nodejs(engine) >= 20.19']);
    assert.deepEqual((await query('--conflicts')).trim().split('\n'), ['arvados-dispatch-cloud']);
    assert.ok((await query('--provides')).split('\n').includes('arvados-dispatch-cloud'));
    assert.match(await query('--triggers'), /^triggerpostun scriptlet \(using \/bin\/sh\) -- arvados-dispatch-cloud$/m);
  });

  it('holds the .deb\'s tree, with the unit in /usr/lib/systemd/system and the command a link into it', async () => {
    const files = (await query('-l')).trim().split('\n');
    for (const f of [
      '/usr/lib/systemd/system/arvados-dispatch-cloud.service',
      '/usr/lib/arvados-dispatch-cloud/bin/arvados-dispatch-cloud.mjs',
      '/usr/lib/arvados-dispatch-cloud/dist/src/cli.js',
      '/usr/share/man/man1/arvados-dispatch-cloud.1.gz',
      '/usr/share/doc/arvados-dispatch-cloud-ts/operators.md',
      '/usr/share/doc/arvados-dispatch-cloud-ts/copyright',
      '/usr/share/doc/arvados-dispatch-cloud-ts/examples/sandbox.conf',
    ]) {
      assert.ok(files.includes(f), `${f} missing`);
    }
    assert.deepEqual(files.filter((f) => /\.ts$|\/typescript\/|\/tsx\/|\/\.history\//.test(f)), []);
    assert.match(await query('-lv'), /^l\S+\s+1 root\s+root\s+\d+ .* \/usr\/bin\/arvados-dispatch-cloud -> \.\.\/lib\/arvados-dispatch-cloud\/bin\/arvados-dispatch-cloud\.mjs$/m);
    // The unit file is the repository's, byte for byte (rpm's digests are SHA-256).
    const digests = new Map((await query('--qf', '[%{FILENAMES} %{FILEDIGESTS}\\n]')).trim().split('\n').map((l) => l.split(' ') as [string, string]));
    assert.equal(digests.get(`/usr/lib/systemd/system/${UNIT}.service`), createHash('sha256').update(readFileSync(join(REPO, 'systemd', `${UNIT}.service`))).digest('hex'));
  });

  it('rpmlint reports no errors but the explained ones (warnings listed)', async function () {
    if (!existsSync(RPMLINT)) {
      console.log(`      skipped: ${RPMLINT} is missing (scripts/ensure-rpm.mjs installs it as root)`);
      this.skip();
    }
    const r = await runCommand(RPMLINT, [rpmFile], { timeoutMs: 5 * 60_000 });
    const lines = r.stdout.split('\n');
    const errors = lines.filter((l) => / E: /.test(l));
    const unexplained = errors.filter((l) => !(/ E: (\S+)/.exec(l)![1]! in EXPLAINED));
    assert.deepEqual(unexplained, [], r.stdout);
    const kinds = (level: string) => [...new Set(lines.filter((l) => l.includes(` ${level}: `)).map((l) => / [EW]: (\S+)/.exec(l)![1]!))];
    console.log(`      rpmlint: errors explained: ${kinds('E').join(', ') || 'none'}; warnings: ${kinds('W').join(', ') || 'none'}`);
  });

  describe('under a running systemd, installed with dnf (a throwaway machine: test/fixtures/nspawn.ts)', () => {
    let machine: NspawnMachine | undefined;
    let fixture: LameDaemonFixture | undefined;
    /** Where the packages are, inside the machine. */
    const RPMS = '/root/rpms';
    const standIns: Record<string, string> = {};

    before(async function () {
      if (!existsSync(DNF)) {
        console.log(`      skipped: ${DNF} is missing (scripts/ensure-rpm.mjs installs Debian's dnf as root)`);
        this.skip();
      }
      machine = await bootOrSkip('adc-rpm-systemd', this);
      fixture = await lameDaemonFixture('adc-rpm-systemd');
      const out = join(machine.root, RPMS.slice(1));
      mkdirSync(out, { recursive: true });
      copyFileSync(rpmFile, join(out, 'ours.rpm'));
      // rpm's database where Red Hat keeps it (Debian's rpm keeps one per user).
      mkdirSync(join(machine.root, 'etc/rpm'), { recursive: true });
      writeFileSync(join(machine.root, 'etc/rpm/macros.dbpath'), '%_dbpath /var/lib/rpm\n');
      // What a Red Hat host has: a shell for the scriptlets, and Node.js, whose package carries epoch 1 there.
      standIns.base = await buildStandInRpm({ name: 'base-stand-in', version: '1', provides: ['/bin/sh'] }, out);
      standIns.node20 = await buildStandInRpm({ name: 'nodejs', epoch: 1, version: '20.19.5', provides: ['nodejs(engine) = 20.19.5'] }, out);
      standIns.node18 = await buildStandInRpm({ name: 'nodejs', epoch: 1, version: '18.20.8', provides: ['nodejs(engine) = 18.20.8'] }, out);
      // The reference's package: its name, its two paths, and scriptlets that do with the unit what
      // the reference's do (on install: enable and start it when disabled, reload-or-try-restart it
      // when enabled; on erasure: stop and disable it); its "daemon" only sleeps.
      standIns.reference = await buildStandInRpm(
        {
          name: 'arvados-dispatch-cloud',
          version: '3.1.0',
          files: {
            '/usr/bin/arvados-dispatch-cloud': '#!/bin/sh\nexec sleep infinity\n',
            '/lib/systemd/system/arvados-dispatch-cloud.service': '[Unit]\nDescription=stand-in dispatcher\n[Service]\nExecStart=/usr/bin/arvados-dispatch-cloud\n[Install]\nWantedBy=multi-user.target\n',
          },
          scripts: {
            post: `if [ "$1" = 1 ] && [ -e /run/systemd/system ]; then systemctl daemon-reload || true; case "$(systemctl show -p UnitFileState --value ${UNIT})" in disabled) systemctl enable ${UNIT} || true; systemctl start ${UNIT} || true;; enabled) systemctl reload-or-try-restart ${UNIT} || true;; esac; fi`,
            preun: `if [ "$1" = 0 ] && [ -e /run/systemd/system ]; then systemctl stop ${UNIT} || true; systemctl disable ${UNIT} || true; fi`,
          },
        },
        out,
      );
      for (const [k, v] of Object.entries(standIns)) standIns[k] = join(RPMS, basename(v));
      const base = await dnf('install', standIns.base!);
      assert.equal(base.code, 0, base.out);
    });
    after(async () => {
      await machine?.destroy();
      await fixture?.cleanup();
    });

    /** `dnf -y ARGS` in the machine (no repositories: the packages are local files). */
    async function dnf(...args: string[]): Promise<{ code: number; out: string }> {
      const r = await machine!.run(DNF, ['-y', '--releasever=9', ...args]);
      return { code: r.code, out: r.stdout + r.stderr };
    }
    const installed = async () => (await machine!.run('rpm', ['-qa', '--qf', '%{NAME}\\n'])).stdout.trim().split('\n').sort();

    it('refuses a Node.js older than 20.19, though Red Hat\'s carries epoch 1', async () => {
      const m = machine!;
      assert.equal((await dnf('install', standIns.node18!)).code, 0);
      const refused = await dnf('install', join(RPMS, 'ours.rpm'));
      assert.equal(refused.code, 1, refused.out);
      assert.match(refused.out, /nothing provides nodejs\(engine\) >= 20\.19 needed by arvados-dispatch-cloud-ts-0\.1\.0-1\.noarch/);
      assert.deepEqual(await installed(), ['base-stand-in', 'nodejs']);
      // Node.js 20.19 from the same vendor (an upgrade of the stand-in) satisfies it.
      assert.equal((await dnf('install', standIns.node20!)).code, 0);
      assert.equal((await m.run('rpm', ['-q', 'nodejs'])).stdout.trim(), 'nodejs-20.19.5-1.noarch');
    });

    it('dnf install queues the start, not waiting for the daemon to be ready: with a controller that never answers, it returns and the unit is starting', async () => {
      const m = machine!;
      const silent = await silentServer();
      try {
        mkdirSync(join(m.root, 'etc/arvados'), { recursive: true });
        const silentURL = `http://127.0.0.1:${silent.port}`;
        writeFileSync(join(m.root, 'etc/arvados/config.yml'), readFileSync(fixture!.config, 'utf8').replaceAll(fixture!.controller.url, silentURL));
        if (!(await installed()).includes('nodejs')) assert.equal((await dnf('install', standIns.node20!)).code, 0);
        const started = Date.now();
        const r = await dnf('install', join(RPMS, 'ours.rpm'));
        const took = Date.now() - started;
        assert.equal(r.code, 0, r.out);
        // Waiting would take until TimeoutStartSec (300 s).
        assert.ok(took < 60_000, `dnf install took ${took} ms`);
        // The daemon says what it waits for once it has read its config; it stays starting.
        await waitFor('the status', async () => /^starting: waiting for the first queue poll/.test((await m.show(UNIT, 'StatusText')).StatusText!), 20_000, 200);
        assert.equal((await m.show(UNIT, 'ActiveState')).ActiveState, 'activating');
      } finally {
        await dnf('remove', 'arvados-dispatch-cloud-ts');
        silent.close();
      }
    });

    it('dnf swap goes from the reference\'s package to ours and back, a dispatcher running after each; reinstall restarts it; --allowerasing switches too; remove stops and disables it', async () => {
      const m = machine!;
      mkdirSync(join(m.root, 'etc/arvados'), { recursive: true });
      writeFileSync(join(m.root, 'etc/arvados/config.yml'), readFileSync(fixture!.config));
      const ours = join(RPMS, 'ours.rpm');
      const step = async (what: string, ...args: string[]) => {
        const r = await dnf(...args);
        assert.equal(r.code, 0, `${what}: ${r.out}\n${await m.journal(UNIT)}`);
      };
      const running = (program: string) => m.waitForMainProgram(UNIT, program);
      const enabled = async () => (await m.run('systemctl', ['is-enabled', UNIT])).stdout.trim();

      if (!(await installed()).includes('nodejs')) await step('install Node.js', 'install', standIns.node20!);
      await step('install the reference\'s', 'install', standIns.reference!);
      await running('sleep');
      // Ours is installed, then the reference's erased in the same transaction: its %preun stops
      // and disables the unit, and our trigger on its removal starts it again.
      await step('swap to ours', 'swap', 'arvados-dispatch-cloud', ours);
      assert.deepEqual(await installed(), ['arvados-dispatch-cloud-ts', 'base-stand-in', 'nodejs']);
      await running('arvados-dispatc');
      assert.equal(await enabled(), 'enabled');
      assert.match((await m.show(UNIT, 'StatusText')).StatusText!, /^\d+ containers?.*, \d+ VMs?/);
      const uuid = fixture!.controller.addContainer({ priority: 1, runtime_constraints: { vcpus: 1, ram: 1 << 30 }, command: ['sleep', '1'] }).uuid;
      await waitFor('the container to complete', () => fixture!.controller.get(uuid)?.state === 'Complete', 90_000, 200);

      // An upgrade's scriptlets ($1 = 2, then 1 for the old one's): the unit restarts with the new files.
      const before = (await m.show(UNIT, 'MainPID')).MainPID;
      await step('reinstall ours', 'reinstall', ours);
      await waitFor('a restart', async () => {
        const now = await m.show(UNIT, 'ActiveState', 'MainPID');
        return now.ActiveState === 'active' && now.MainPID !== before;
      }, 30_000, 200);

      // And back: the reference's %post restarts the enabled unit as its own, and our %preun,
      // seeing its command in place of ours, leaves it running.
      await step('swap back', 'swap', 'arvados-dispatch-cloud-ts', standIns.reference!);
      assert.deepEqual(await installed(), ['arvados-dispatch-cloud', 'base-stand-in', 'nodejs']);
      await running('sleep');
      assert.equal(await enabled(), 'enabled');

      // Ours again by the other command, then removed alone: stopped, disabled, the command gone.
      await step('install ours with --allowerasing', 'install', '--allowerasing', ours);
      await running('arvados-dispatc');
      await step('remove ours', 'remove', 'arvados-dispatch-cloud-ts');
      assert.equal((await m.show(UNIT, 'ActiveState')).ActiveState, 'inactive');
      assert.notEqual(await enabled(), 'enabled');
      assert.ok(!existsSync(join(m.root, 'usr/bin/arvados-dispatch-cloud')));
    });
  });
});
