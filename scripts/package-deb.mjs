#!/usr/bin/env node
/**
 * `npm run package`: builds the Debian package with dpkg-deb, into `build/`
 * (or `--out DIR`), and prints the .deb's path on stdout. The tree it holds
 * is `package-tree.mjs`'s, with the unit in /lib/systemd/system (the
 * reference's path), plus the Debian changelog and the maintainer scripts of
 * `packaging/debian/`.
 *
 * The package is named apart from the reference's `arvados-dispatch-cloud`
 * and Conflicts/Replaces/Provides it, since both own /usr/bin and the unit:
 * see `packaging/debian/README.md`. It holds no compiled code, so it is
 * `Architecture: all`.
 * Environment: DEBFULLNAME and DEBEMAIL name the maintainer (the last
 * commit's author otherwise); DEB_COMPRESSION picks dpkg-deb's -Z (xz).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { commitFacts, DOC, PACKAGE_NAME, packagerMain, REFERENCE_PACKAGE, ROOT, stageTree } from './package-tree.mjs';

function installedSizeKiB(dir) {
  return Number(execFileSync('du', ['-sk', '--apparent-size', '--exclude=DEBIAN', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** Builds the package into `outDir`; returns the .deb's path. */
export function packageDeb(outDir) {
  const { epoch, date, commit, author } = commitFacts();
  const maintainer = process.env.DEBEMAIL ? `${process.env.DEBFULLNAME || 'arvados-dispatch-cloud maintainers'} <${process.env.DEBEMAIL}>` : author;

  const stage = mkdtempSync(join(tmpdir(), 'adc-deb-'));
  try {
    const version = `${stageTree(stage, { unitDir: 'lib/systemd/system' })}-1`;
    const changelog = `${PACKAGE_NAME} (${version}) unstable; urgency=medium\n\n  * Built from commit ${commit}.\n\n -- ${maintainer}  ${date}\n`;
    writeFileSync(join(stage, DOC, 'changelog.Debian.gz'), gzipSync(changelog, { level: 9 }));
    chmodSync(join(stage, DOC, 'changelog.Debian.gz'), 0o644);

    const debian = join(stage, 'DEBIAN');
    mkdirSync(debian);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      cpSync(join(ROOT, 'packaging', 'debian', script), join(debian, script));
      chmodSync(join(debian, script), 0o755);
    }
    writeFileSync(join(debian, 'control'), [
      `Package: ${PACKAGE_NAME}`,
      `Version: ${version}`,
      'Architecture: all',
      `Maintainer: ${maintainer}`,
      `Installed-Size: ${installedSizeKiB(stage)}`,
      // package.json's engines: 20.19 is the first 20.x whose ESM loading the daemon relies on.
      'Depends: nodejs (>= 20.19)',
      `Conflicts: ${REFERENCE_PACKAGE}`,
      `Replaces: ${REFERENCE_PACKAGE}`,
      `Provides: ${REFERENCE_PACKAGE}`,
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
    const deb = join(outDir, `${PACKAGE_NAME}_${version}_all.deb`);
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

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  packagerMain({ name: 'package', tool: '/usr/bin/dpkg-deb', install: 'apt-get install dpkg', build: packageDeb });
}
