/**
 * crunch-run's command line, parsed as the real one parses it
 * (lib/crunchrun/crunchrun.go in the reference, with Go's `flag` package):
 * the flags it has, by release, the values each takes, and the refusals
 * that make it exit 2. The lame cloud's crunch-run runs on this, and the
 * config check reads `Containers.CrunchRunArgumentsList` with it, so a list
 * the check passes is one the emulation accepts.
 */
import { parseDuration } from '../config/units.js';

export interface CrunchRunArgs {
  list: boolean;
  /** `--list` reads the price history from stdin. */
  stdinPrices: boolean;
  detach: boolean;
  stdinConfig: boolean;
  /** Signal number for `--kill`; -1 when not given. */
  kill: number;
  runtimeEngine: string | undefined;
  /** `-version`: print the version and exit 0, before anything else. */
  version: boolean;
  /** `-help` or `-h`, which crunch-run does not define: Go's parser prints the usage and crunch-run exits 0. */
  help: boolean;
  /** Arguments after the flags: the container UUID. */
  positional: string[];
  /** Where the flags stopped in the arguments: the index of the first word that is no flag, of `--`, or of `-help`; their length when every word was read as a flag or a flag's value. */
  flagsEnd: number;
}

/** What each flag's value is, as Go's `flag` package reads it. */
type FlagKind = 'bool' | 'string' | 'duration' | 'int';

/**
 * crunch-run's flags (lib/crunchrun/crunchrun.go) and their kinds. Any other
 * flag is refused as Go's `flag` package refuses it: exit 2.
 */
const FLAGS: ReadonlyMap<string, FlagKind> = new Map<string, FlagKind>([
  ['crunchstat-interval', 'duration'],
  ['cgroup-root', 'string'],
  ['cgroup-parent', 'string'],
  ['cgroup-parent-subsystem', 'string'],
  ['ca-certs', 'string'],
  ['detach', 'bool'],
  ['stdin-config', 'bool'],
  ['stdin-prices', 'bool'],
  ['config', 'string'],
  ['sleep', 'duration'],
  ['kill', 'int'],
  ['list', 'bool'],
  ['enable-memory-limit', 'bool'],
  ['container-enable-networking', 'string'],
  ['container-network-mode', 'string'],
  ['memprofile', 'string'],
  ['runtime-engine', 'string'],
  ['broken-node-hook', 'string'],
  ['check-containerd', 'duration'],
  ['version', 'bool'],
]);

/** The runtime engines crunch-run runs containers with (`-runtime-engine`); with another it exits before running the container. */
export const RUNTIME_ENGINES: readonly string[] = ['docker', 'singularity'];

/** Flags crunch-run gained after 2.7, with the first release that has them. */
const ADDED_IN: Readonly<Record<string, string>> = { 'stdin-prices': '3.2.1' };

/** The words Go's `strconv.ParseBool` takes. */
const BOOL_WORDS: ReadonlyMap<string, boolean> = new Map([
  ...['1', 't', 'T', 'TRUE', 'true', 'True'].map((w): [string, boolean] => [w, true]),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False'].map((w): [string, boolean] => [w, false]),
]);

/** Integers as Go's `strconv.ParseInt(s, 0, 64)` reads the usual ones: decimal, or 0x hex. */
const INT = /^[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)$/;

/** True if release `version` ("X.Y.Z") is before `than`. */
function olderThan(version: string, than: string): boolean {
  const a = version.split('.').map(Number);
  const b = than.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return false;
}

/** Whether the crunch-run of release `version` (undefined: the current one) has flag `name`. */
export function hasFlag(name: string, version: string | undefined): boolean {
  if (!FLAGS.has(name)) return false;
  const since = ADDED_IN[name];
  return version === undefined || since === undefined || !olderThan(version, since);
}

/** Whether crunch-run's flag `name` is a boolean one, which takes its value only as `-name=value`. */
export function isBoolFlag(name: string): boolean {
  return FLAGS.get(name) === 'bool';
}

/** The flag an argument names (`-name`, `--name`, `-name=value`), or undefined for a non-flag. */
export function flagName(arg: string): string | undefined {
  if (!arg.startsWith('-') || arg === '-' || arg === '--') return undefined;
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  return eq >= 0 ? body.slice(0, eq) : body;
}

/** Checks a value as Go's flag parser does; the error is its message. */
function checkValue(name: string, kind: FlagKind, value: string): void {
  const bad = (): Error => new Error(`invalid value ${JSON.stringify(value)} for flag -${name}: parse error`);
  if (kind === 'int' && !INT.test(value)) throw bad();
  if (kind === 'duration') {
    try {
      parseDuration(value);
    } catch {
      throw bad();
    }
  }
}

/**
 * Parses crunch-run's arguments with Go `flag` rules: `-name` and `--name`
 * alike, values as `-name=v` or `-name v` (booleans only as `-name=v`),
 * flags end at the first non-flag or after `--`. Throws with Go's message
 * where crunch-run exits 2: a flag the crunch-run of `version` does not have
 * (a typo in CrunchRunArgumentsList, or one added in a later release), a
 * value it cannot read, a missing value, bad flag syntax. `-help` and `-h`
 * stop the parse with `help` set.
 */
export function parseCrunchRunArgs(args: readonly string[], version?: string): CrunchRunArgs {
  const out: CrunchRunArgs = { list: false, stdinPrices: false, detach: false, stdinConfig: false, kill: -1, runtimeEngine: undefined, version: false, help: false, positional: [], flagsEnd: args.length };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      out.flagsEnd = i++;
      break;
    }
    const name = flagName(arg);
    if (name === undefined) {
      out.flagsEnd = i;
      break;
    }
    if (name === '' || name.startsWith('-') || name.startsWith('=')) throw new Error(`bad flag syntax: ${arg}`);
    const kind = hasFlag(name, version) ? FLAGS.get(name) : undefined;
    if (kind === undefined) {
      if (name === 'help' || name === 'h') {
        out.help = true;
        out.flagsEnd = i;
        return out;
      }
      throw new Error(`flag provided but not defined: -${name}`);
    }
    const eq = arg.indexOf('=');
    let value = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (kind === 'bool') {
      const on = value === undefined ? true : BOOL_WORDS.get(value);
      if (on === undefined) throw new Error(`invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`);
      if (name === 'list') out.list = on;
      else if (name === 'detach') out.detach = on;
      else if (name === 'stdin-config') out.stdinConfig = on;
      else if (name === 'stdin-prices') out.stdinPrices = on;
      else if (name === 'version') out.version = on;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) throw new Error(`flag needs an argument: -${name}`);
      value = args[++i];
    }
    checkValue(name, kind, value);
    if (name === 'kill') out.kill = (value.startsWith('-') ? -1 : 1) * Number(value.replace(/^[+-]/, ''));
    else if (name === 'runtime-engine') out.runtimeEngine = value;
    // Other crunch-run flags change nothing in the emulation.
  }
  out.positional = args.slice(i);
  return out;
}
