/** Source files for the lint tests to read. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every TypeScript or JavaScript file under `dir`, at any depth (none if `dir` is missing). */
export function tsFiles(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}
