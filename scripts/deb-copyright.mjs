/**
 * The Debian package's `copyright` file: this program's licence, and the
 * name, version and declared licence of every npm module bundled in its
 * node_modules (each module's own licence file stays in its directory).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A package.json's declared licence: `license` as a string or an object, or the old `licenses` list. */
function licenseOf(pkg) {
  if (typeof pkg.license === 'string') return pkg.license;
  if (typeof pkg.license?.type === 'string') return pkg.license.type;
  if (Array.isArray(pkg.licenses)) return pkg.licenses.map((l) => (typeof l === 'string' ? l : l.type)).join(' OR ');
  return 'see its own files';
}

/** Each installed package under `nodeModules` (scoped and nested ones too): path, version, licence. */
function bundled(nodeModules, prefix = '') {
  const out = [];
  for (const name of readdirSync(nodeModules).sort()) {
    if (name.startsWith('.')) continue;
    const dir = join(nodeModules, name);
    if (name.startsWith('@')) {
      out.push(...bundled(dir, `${prefix}${name}/`));
      continue;
    }
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, 'utf8'));
    const license = licenseOf(pkg);
    out.push({ path: `${prefix}${name}`, version: pkg.version, license });
    if (existsSync(join(dir, 'node_modules'))) out.push(...bundled(join(dir, 'node_modules'), `${prefix}${name}/node_modules/`));
  }
  return out;
}

/** The text of /usr/share/doc/PACKAGE/copyright. */
export function copyrightFile(nodeModules, year) {
  const modules = bundled(nodeModules);
  const width = Math.max(...modules.map((m) => `${m.path} ${m.version}`.length));
  const lines = modules.map((m) => `  ${`${m.path} ${m.version}`.padEnd(width)}  ${m.license}`);
  return [
    'arvados-dispatch-cloud (TypeScript), a replacement for Arvados\'s',
    'arvados-dispatch-cloud.',
    '',
    `Copyright (C) ${year} the arvados-dispatch-cloud (TypeScript) authors.`,
    'License: AGPL-3.0-only: the GNU Affero General Public License, version 3',
    '(https://www.gnu.org/licenses/agpl-3.0.html).',
    '',
    'The npm modules in /usr/lib/arvados-dispatch-cloud/node_modules are bundled',
    'as published; each keeps its own licence file in its directory. Their',
    'declared licences (Apache-2.0\'s text is in /usr/share/common-licenses/Apache-2.0):',
    '',
    ...lines,
    '',
  ].join('\n');
}
