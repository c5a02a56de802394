#!/usr/bin/env node
/**
 * `npm run package`: builds the Debian package with dpkg-deb, into `build/`
 * (or `--out DIR`), and prints the .deb's path on stdout.
 *
 *   /usr/lib/arvados-dispatch-cloud/     bin/, dist/ (compiled here, not the
 *                                        checkout's dist/) and the production
 *                                        node_modules (`npm ci --omit=dev`)
 *   /usr/bin/arvados-dispatch-cloud      a symlink to its bin/ command
 *   /lib/systemd/system/                 the unit, at the reference's path
 *   /usr/share/doc/PACKAGE/              copyright, changelog, operators.md (the
 *                                        operators' guide), examples/ (the
 *                                        config and settings files' examples,
 *                                        the unit's sandbox drop-in)
 *   /usr/share/man/man1/                 arvados-dispatch-cloud.1.gz, made from
 *                                        the command's help (src/man-page.ts)
 *
 * The package is named apart from the reference's `arvados-dispatch-cloud`
 * and Conflicts/Replaces/Provides it, since both own /usr/bin and the unit:
 * see `packaging/debian/README.md`.
 *
 * node_modules keeps only what runs: TypeScript files (declarations, and
 * some modules' sources) and source maps go (about 90 MB of the SDKs' 200),
 * and so do `.bin` links. Dependencies' install scripts are not run and
 * optional dependencies are left out: ssh2 then uses its pure JavaScript
 * code instead of compiling its native speed-ups, so the package holds no
 * compiled code and is `Architecture: all`.
 * Environment: DEBFULLNAME and DEBEMAIL name the maintainer (the last
 * commit's author otherwise); DEB_COMPRESSION picks dpkg-deb's -Z (xz).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from './build.mjs';
import { copyrightFile } from './deb-copyright.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The package's name: the reference's, plus `-ts`, so that each can replace the other. */
export const DEB_NAME = 'arvados-dispatch-cloud-ts';
/** The reference's package, which ours conflicts with, replaces and provides. */
export const REFERENCE_DEB = 'arvados-dispatch-cloud';
const LIB = 'usr/lib/arvados-dispatch-cloud';
const DOC = `usr/share/doc/${DEB_NAME}`;
const UNIT = 'arvados-dispatch-cloud.service';

function git(args) {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
}

/** Every file and directory under `dir`, modes made what Debian expects (root-owned via dpkg-deb). */
function normalizeModes(dir, executables) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) {
      chmodSync(p, 0o755);
      normalizeModes(p, executables);
    } else {
      chmodSync(p, executables.has(p) ? 0o755 : 0o644);
    }
  }
}

/**
 * Removes what production never loads from an installed node_modules (and
 * the modules' development files, which lintian calls errors); returns the
 * scripts (`#!` files) that stay, to be made executable.
 */
function pruneNodeModules(dir, scripts = new Set()) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (name === '.bin' || name === '.package-lock.json') rmSync(p, { recursive: true, force: true });
    else if (st.isDirectory()) pruneNodeModules(p, scripts);
    else if (/\.[cm]?ts$|\.map$|^\.npmignore$|^\.eslintrc|^\.git(attributes|ignore)$/.test(name)) rmSync(p);
    else if (st.isFile() && readFileSync(p).subarray(0, 2).toString() === '#!') scripts.add(p);
  }
  return scripts;
}

/**
 * The manual page, from the compiled command in `lib` (with its production
 * node_modules): its help as anyone would see it, so without the variables
 * that change the defaults it shows.
 */
function manPageOf(lib, version, date) {
  const script = `
    const { buildProgram } = await import(${JSON.stringify(pathToFileURL(join(lib, 'dist/src/cli.js')).href)});
    const { manPage } = await import(${JSON.stringify(pathToFileURL(join(lib, 'dist/src/man-page.js')).href)});
    process.stdout.write(manPage(buildProgram(), ${JSON.stringify({ version, date, docDir: `/${DOC}/` })}));`;
  const { ARVADOS_CONFIG: _config, ARVADOS_DISPATCH_CLOUD_SETTINGS: _settings, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
  if (r.status !== 0) throw new Error(`making the manual page: node exited with ${r.status ?? r.signal}`);
  return r.stdout;
}

function installedSizeKiB(dir) {
  return Number(execFileSync('du', ['-sk', '--apparent-size', '--exclude=DEBIAN', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** Builds the package into `outDir`; returns the .deb's path. */
export function packageDeb(outDir) {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const version = `${pkg.version}-1`;
  const maintainer = process.env.DEBEMAIL ? `${process.env.DEBFULLNAME || 'arvados-dispatch-cloud maintainers'} <${process.env.DEBEMAIL}>` : git(['log', '-1', '--format=%an <%ae>']);
  // The last commit's time stands for "now", so two builds of one commit give the same package.
  const epoch = Number(git(['log', '-1', '--format=%ct']));
  const built = new Date(epoch * 1000);
  const date = git(['log', '-1', '--format=%cD']);
  const commit = git(['rev-parse', '--short', 'HEAD']);

  const stage = mkdtempSync(join(tmpdir(), 'adc-deb-'));
  try {
    const lib = join(stage, LIB);
    build(join(lib, 'dist'));
    mkdirSync(join(lib, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'bin', 'arvados-dispatch-cloud.mjs'), join(lib, 'bin', 'arvados-dispatch-cloud.mjs'));
    cpSync(join(ROOT, 'package.json'), join(lib, 'package.json'));
    cpSync(join(ROOT, 'package-lock.json'), join(lib, 'package-lock.json'));
    const npm = spawnSync('npm', ['ci', '--omit=dev', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: lib, stdio: ['ignore', 2, 2] });
    if (npm.status !== 0) throw new Error(`npm ci --omit=dev exited with ${npm.status ?? npm.signal}`);
    // Installed, package.json's scripts and the lock file mean nothing; dist/package.json has the version.
    rmSync(join(lib, 'package.json'));
    rmSync(join(lib, 'package-lock.json'));
    const scripts = pruneNodeModules(join(lib, 'node_modules'));

    mkdirSync(join(stage, 'usr/bin'), { recursive: true });
    symlinkSync('../lib/arvados-dispatch-cloud/bin/arvados-dispatch-cloud.mjs', join(stage, 'usr/bin/arvados-dispatch-cloud'));
    mkdirSync(join(stage, 'lib/systemd/system'), { recursive: true });
    cpSync(join(ROOT, 'systemd', UNIT), join(stage, 'lib/systemd/system', UNIT));

    const doc = join(stage, DOC);
    mkdirSync(join(doc, 'examples'), { recursive: true });
    cpSync(join(ROOT, 'config.example.yml'), join(doc, 'examples', 'config.example.yml'));
    cpSync(join(ROOT, 'dispatch-cloud.example.yml'), join(doc, 'examples', 'dispatch-cloud.example.yml'));
    cpSync(join(ROOT, 'systemd', 'sandbox.conf'), join(doc, 'examples', 'sandbox.conf'));
    cpSync(join(ROOT, 'docs', 'operators.md'), join(doc, 'operators.md'));
    const man = join(stage, 'usr/share/man/man1');
    mkdirSync(man, { recursive: true });
    writeFileSync(join(man, 'arvados-dispatch-cloud.1.gz'), gzipSync(manPageOf(lib, pkg.version, built.toISOString().slice(0, 10)), { level: 9 }));
    writeFileSync(join(doc, 'copyright'), copyrightFile(join(lib, 'node_modules'), built.getUTCFullYear()));
    const changelog = `${DEB_NAME} (${version}) unstable; urgency=medium\n\n  * Built from commit ${commit}.\n\n -- ${maintainer}  ${date}\n`;
    writeFileSync(join(doc, 'changelog.Debian.gz'), gzipSync(changelog, { level: 9 }));

    const debian = join(stage, 'DEBIAN');
    mkdirSync(debian);
    for (const script of ['postinst', 'prerm', 'postrm']) cpSync(join(ROOT, 'packaging', 'debian', script), join(debian, script));
    const executables = new Set([join(lib, 'bin', 'arvados-dispatch-cloud.mjs'), ...scripts, ...['postinst', 'prerm', 'postrm'].map((s) => join(debian, s))]);
    normalizeModes(stage, executables);
    chmodSync(stage, 0o755);
    writeFileSync(join(debian, 'control'), [
      `Package: ${DEB_NAME}`,
      `Version: ${version}`,
      'Architecture: all',
      `Maintainer: ${maintainer}`,
      `Installed-Size: ${installedSizeKiB(stage)}`,
      // package.json's engines: 20.19 is the first 20.x whose ESM loading the daemon relies on.
      'Depends: nodejs (>= 20.19)',
      `Conflicts: ${REFERENCE_DEB}`,
      `Replaces: ${REFERENCE_DEB}`,
      `Provides: ${REFERENCE_DEB}`,
      'Section: admin',
      'Priority: optional',
      'Description: runs an Arvados cluster\'s containers on cloud VMs (TypeScript)',
      ' A drop-in replacement for Arvados\'s arvados-dispatch-cloud: it reads the',
      ' same /etc/arvados/config.yml, runs the same systemd unit, tags VMs the same',
      ' way and serves the same management API and metrics. Installing it removes',
      ' the reference\'s package, and installing that one removes this one.',
      '',
    ].join('\n'));
    chmodSync(join(debian, 'control'), 0o644);

    mkdirSync(outDir, { recursive: true });
    const deb = join(outDir, `${DEB_NAME}_${version}_all.deb`);
    const z = process.env.DEB_COMPRESSION || 'xz';
    const r = spawnSync('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', stage, deb], {
      stdio: ['ignore', 2, 2],
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
    });
    if (r.status !== 0) throw new Error(`dpkg-deb --build exited with ${r.status ?? r.signal}`);
    return deb;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function main() {
  const i = process.argv.indexOf('--out');
  const out = resolve(i > 0 ? process.argv[i + 1] : join(ROOT, 'build'));
  if (!existsSync('/usr/bin/dpkg-deb')) {
    process.stderr.write('package: dpkg-deb is missing: apt-get install dpkg\n');
    process.exit(1);
  }
  try {
    process.stdout.write(`${packageDeb(out)}\n`);
  } catch (err) {
    process.stderr.write(`package: ${err.message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
