/** Source files the lint tests read. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every .ts/.mts/.js/.mjs file under `dir`, recursively; none if `dir` does not exist. */
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
