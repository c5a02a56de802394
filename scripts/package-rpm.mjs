#!/usr/bin/env node
/**
 * `npm run package:rpm`: builds the RPM for the Red Hat family (RHEL, Rocky
 * and Alma Linux 8 and later, where the reference ships RPMs too) with
 * rpmbuild, into `build/` (or `--out DIR`), and prints the .rpm's path on
 * stdout. The tree is `package-tree.mjs`'s, as in the .deb, with the unit in
 * /usr/lib/systemd/system (the reference's /lib/systemd/system is the same
 * directory there), and the scriptlets of `packaging/rpm/`.
 *
 * Like the .deb, it is named apart from the reference's package, conflicts
 * with it and provides its name: `dnf swap` (or `dnf install --allowerasing`)
 * goes either way in one transaction. See `packaging/rpm/README.md`.
 * Environment: RPM_PACKAGER names the packager for the changelog (the last
 * commit's author otherwise).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMAND_LINK, commitFacts, DOC, LIB, PACKAGE_NAME, packagerMain, REFERENCE_PACKAGE, ROOT, stageTree, UNIT } from './package-tree.mjs';

const RPMBUILD = '/usr/bin/rpmbuild';
const UNIT_DIR = 'usr/lib/systemd/system';
const RELEASE = '1';

/** A scriptlet of `packaging/rpm/`, with `@COMMAND_LINK@` filled in. */
function scriptlet(name) {
  return readFileSync(join(ROOT, 'packaging', 'rpm', name), 'utf8').replaceAll('@COMMAND_LINK@', COMMAND_LINK).trimEnd();
}

/** The spec: everything comes from `stage`, built already; rpmbuild only packs it. */
function specText({ version, stage, packager, built, commit }) {
  // rpm's changelog date: "Tue Dec 08 2026".
  const day = built.toUTCString().slice(0, 16).replace(/^(\w+), (\d+) (\w+) (\d+)$/, '$1 $3 $2 $4');
  return `Name: ${PACKAGE_NAME}
Version: ${version}
Release: ${RELEASE}
Summary: Runs an Arvados cluster's containers on cloud VMs (TypeScript)
License: AGPL-3.0-only
Group: System Environment/Daemons
Packager: ${packager}
BuildArch: noarch
# Only what is declared here: the tree holds no compiled code, and its scripts' #! lines
# name node through env.
AutoReqProv: no
# Red Hat's Node.js packages (AppStream, EPEL, Fedora) provide nodejs(engine) at their
# version. Not "nodejs >= 20.19": their nodejs carries epoch 1, which any version
# without one satisfies (1:18 > 20.19).
Requires: nodejs(engine) >= 20.19
Conflicts: ${REFERENCE_PACKAGE}
Provides: ${REFERENCE_PACKAGE}

%description
A drop-in replacement for Arvados's arvados-dispatch-cloud: it reads the
same /etc/arvados/config.yml, runs the same systemd unit, tags VMs the same
way and serves the same management API and metrics. It conflicts with the
reference's package: dnf swap goes from one to the other in one transaction,
leaving a dispatcher running.

%install
cp -a ${stage}/. %{buildroot}/

%files
/usr/bin/arvados-dispatch-cloud
/${LIB}
/${UNIT_DIR}/${UNIT}
%doc /${DOC}
/usr/share/man/man1/arvados-dispatch-cloud.1.gz

%post
${scriptlet('post')}

%preun
${scriptlet('preun')}

%postun
${scriptlet('postun')}

%triggerpostun -- ${REFERENCE_PACKAGE}
${scriptlet('triggerpostun')}

%changelog
* ${day} ${packager} - ${version}-${RELEASE}
- Built from commit ${commit}.
`;
}

/** Builds the package into `outDir`; returns the .rpm's path. */
export function packageRpm(outDir) {
  const { epoch, built, commit, author } = commitFacts();
  const packager = process.env.RPM_PACKAGER || author;
  const work = mkdtempSync(join(tmpdir(), 'adc-rpm-'));
  try {
    const stage = join(work, 'stage');
    mkdirSync(stage);
    const version = stageTree(stage, { unitDir: UNIT_DIR });
    const spec = join(work, `${PACKAGE_NAME}.spec`);
    writeFileSync(spec, specText({ version, stage, packager, built, commit }));
    const top = join(work, 'rpmbuild');
    const defines = {
      _topdir: top,
      // No debuginfo, build-id links, or the distribution's post-install steps (byte-compiling,
      // stripping, recompressing the manual page): the tree goes in as staged.
      _build_id_links: 'none',
      __os_install_post: '%{nil}',
      debug_package: '%{nil}',
      // Two builds of one commit give the same package: its dates are the commit's.
      use_source_date_epoch_as_buildtime: '1',
      clamp_mtime_to_source_date_epoch: '1',
      _buildhost: 'arvados-dispatch-cloud-build',
    };
    const args = ['-bb', '--quiet', ...Object.entries(defines).flatMap(([k, v]) => ['--define', `${k} ${v}`]), spec];
    const r = spawnSync(RPMBUILD, args, { stdio: ['ignore', 2, 2], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
    if (r.status !== 0) throw new Error(`rpmbuild exited with ${r.status ?? r.signal}`);
    const name = readdirSync(join(top, 'RPMS', 'noarch')).find((f) => f.endsWith('.rpm'));
    if (!name) throw new Error(`rpmbuild made no package in ${join(top, 'RPMS', 'noarch')}`);
    mkdirSync(outDir, { recursive: true });
    const rpm = join(outDir, name);
    copyFileSync(join(top, 'RPMS', 'noarch', name), rpm);
    return rpm;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  packagerMain({ name: 'package:rpm', tool: RPMBUILD, install: 'on Debian, apt-get install rpm; on the Red Hat family, dnf install rpm-build', build: packageRpm });
}
