/**
 * crunch-run's command line, parsed as the real one's (lib/crunchrun/crunchrun.go
 * in the reference, Go's `flag` package): the flags it has, by release, and
 * the refusal of any other.
 */

export interface CrunchRunArgs {
  list: boolean;
  /** `--list` reads the price history from stdin. */
  stdinPrices: boolean;
  detach: boolean;
  stdinConfig: boolean;
  /** Signal number for `--kill`; -1 when not given. */
  kill: number;
  runtimeEngine: string | undefined;
  /** Arguments after the flags: the container UUID. */
  positional: string[];
}

/**
 * crunch-run's flags (lib/crunchrun/crunchrun.go), as name -> takes a value.
 * Any other flag is refused as Go's `flag` package refuses it: exit 2.
 */
const FLAGS: ReadonlyMap<string, boolean> = new Map([
  ...['detach', 'stdin-config', 'stdin-prices', 'list', 'enable-memory-limit', 'version'].map((f): [string, boolean] => [f, false]),
  ...[
    'crunchstat-interval',
    'cgroup-root',
    'cgroup-parent',
    'cgroup-parent-subsystem',
    'ca-certs',
    'config',
    'sleep',
    'kill',
    'container-enable-networking',
    'container-network-mode',
    'memprofile',
    'runtime-engine',
    'broken-node-hook',
    'check-containerd',
  ].map((f): [string, boolean] => [f, true]),
]);

/** Flags crunch-run gained after 2.7, with the first release that has them. */
const ADDED_IN: Readonly<Record<string, string>> = { 'stdin-prices': '3.2.1' };

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

/**
 * Parses crunch-run's arguments with Go `flag` rules: `-name` and `--name`
 * alike, values as `-name=v` or `-name v`, flags end at the first non-flag
 * or `--`. A flag the crunch-run of `version` does not have (a typo in
 * CrunchRunArgumentsList, or one added in a later release) throws
 * "flag provided but not defined", as Go's parser exits 2. Throws on a bad
 * `--kill` too.
 */
export function parseCrunchRunArgs(args: readonly string[], version?: string): CrunchRunArgs {
  const out: CrunchRunArgs = { list: false, stdinPrices: false, detach: false, stdinConfig: false, kill: -1, runtimeEngine: undefined, positional: [] };
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (!hasFlag(name, version)) throw new Error(`flag provided but not defined: -${name}`);
    let value = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (FLAGS.get(name) && value === undefined) {
      if (i + 1 >= args.length) throw new Error(`flag needs an argument: -${name}`);
      value = args[++i];
    }
    const on = value === undefined || value === 'true' || value === '1';
    switch (name) {
      case 'list':
        out.list = on;
        break;
      case 'detach':
        out.detach = on;
        break;
      case 'stdin-config':
        out.stdinConfig = on;
        break;
      case 'stdin-prices':
        out.stdinPrices = on;
        break;
      case 'kill':
        if (!/^\d+$/.test(value!)) throw new Error(`invalid value ${JSON.stringify(value)} for flag -kill: parse error`);
        out.kill = Number(value);
        break;
      case 'runtime-engine':
        out.runtimeEngine = value;
        break;
      default:
      // Other crunch-run flags change nothing in the emulation.
    }
  }
  out.positional = args.slice(i);
  return out;
}

