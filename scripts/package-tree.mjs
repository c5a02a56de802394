/**
 * The installed tree both packages hold (`package-deb.mjs`, `package-rpm.mjs`),
 * staged into a directory that stands for `/`:
 *
 *   /usr/lib/arvados-dispatch-cloud/     bin/, dist/ (compiled here, not the
 *                                        checkout's dist/) and the production
 *                                        node_modules (`npm ci --omit=dev`)
 *   /usr/bin/arvados-dispatch-cloud      a symlink to its bin/ command
 *   UNIT_DIR/                            the unit, under the reference's name
 *   /usr/share/doc/PACKAGE/              copyright, operators.md (the
 *                                        operators' guide), examples/ (the
 *                                        config and settings files' examples,
 *                                        the unit's sandbox drop-in)
 *   /usr/share/man/man1/                 arvados-dispatch-cloud.1.gz, made from
 *                                        the command's help (src/man-page.ts)
 *
 * node_modules keeps only what runs: TypeScript files (declarations, and
 * some modules' sources) and source maps go (about 90 MB of the SDKs' 200),
 * and so do `.bin` links. Dependencies' install scripts are not run and
 * optional dependencies are left out: ssh2 then uses its pure JavaScript
 * code instead of compiling its native speed-ups, so the tree holds no
 * compiled code and suits every architecture.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from './build.mjs';
import { copyrightFile } from './deb-copyright.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Both packages' name: the reference's, plus `-ts`, so that each can replace the other. */
export const PACKAGE_NAME = 'arvados-dispatch-cloud-ts';
/** The reference's package, which ours conflicts with, replaces and provides. */
export const REFERENCE_PACKAGE = 'arvados-dispatch-cloud';
export const LIB = 'usr/lib/arvados-dispatch-cloud';
export const DOC = `usr/share/doc/${PACKAGE_NAME}`;
export const UNIT = 'arvados-dispatch-cloud.service';
/** Where `/usr/bin/arvados-dispatch-cloud` points: how a maintainer script tells our command from another package's. */
export const COMMAND_LINK = '../lib/arvados-dispatch-cloud/bin/arvados-dispatch-cloud.mjs';

export function git(args) {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
}

/** What the last commit says of the build: its time stands for "now", so two builds of one commit give the same package. */
export function commitFacts() {
  const epoch = Number(git(['log', '-1', '--format=%ct']));
  return { epoch, built: new Date(epoch * 1000), date: git(['log', '-1', '--format=%cD']), commit: git(['rev-parse', '--short', 'HEAD']), author: git(['log', '-1', '--format=%an <%ae>']) };
}

/** Every file and directory under `dir`: 0755 for directories and `executables`, 0644 for the rest. */
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
    // .history: an editor's copies, published by one module by mistake.
    if (name === '.bin' || name === '.package-lock.json' || name === '.history') rmSync(p, { recursive: true, force: true });
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

/**
 * Stages the installed tree into `stage` (the unit into `unitDir`, relative,
 * where the distribution keeps units); modes are normalised (executables
 * 0755, the rest 0644, directories 0755; root ownership is the package
 * builder's business). Returns the package.json version.
 */
export function stageTree(stage, { unitDir }) {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
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
  symlinkSync(COMMAND_LINK, join(stage, 'usr/bin/arvados-dispatch-cloud'));
  mkdirSync(join(stage, unitDir), { recursive: true });
  cpSync(join(ROOT, 'systemd', UNIT), join(stage, unitDir, UNIT));

  const doc = join(stage, DOC);
  mkdirSync(join(doc, 'examples'), { recursive: true });
  cpSync(join(ROOT, 'config.example.yml'), join(doc, 'examples', 'config.example.yml'));
  cpSync(join(ROOT, 'dispatch-cloud.example.yml'), join(doc, 'examples', 'dispatch-cloud.example.yml'));
  cpSync(join(ROOT, 'systemd', 'sandbox.conf'), join(doc, 'examples', 'sandbox.conf'));
  cpSync(join(ROOT, 'docs', 'operators.md'), join(doc, 'operators.md'));
  const man = join(stage, 'usr/share/man/man1');
  mkdirSync(man, { recursive: true });
  const { built } = commitFacts();
  const year = built.getUTCFullYear();
  writeFileSync(join(man, 'arvados-dispatch-cloud.1.gz'), gzipSync(manPageOf(lib, pkg.version, built.toISOString().slice(0, 10)), { level: 9 }));
  writeFileSync(join(doc, 'copyright'), copyrightFile(join(lib, 'node_modules'), year));

  normalizeModes(stage, new Set([join(lib, 'bin', 'arvados-dispatch-cloud.mjs'), ...scripts]));
  chmodSync(stage, 0o755);
  return pkg.version;
}

/**
 * A packaging script's command line: the package goes into `--out DIR`
 * (default `build/`) and its path is printed on stdout; without `tool`, or
 * when `build` throws, `NAME: why` on stderr and exit status 1.
 */
export function packagerMain({ name, tool, install, build }) {
  const i = process.argv.indexOf('--out');
  const out = resolve(i > 0 ? process.argv[i + 1] : join(ROOT, 'build'));
  if (!existsSync(tool)) {
    process.stderr.write(`${name}: ${basename(tool)} is missing: ${install}\n`);
    process.exit(1);
  }
  try {
    process.stdout.write(`${build(out)}\n`);
  } catch (err) {
    process.stderr.write(`${name}: ${err.message}\n`);
    process.exit(1);
  }
}
