/**
 * The protocol between the dispatcher and a worker VM (ARVADOS.md section
 * 2): the command lines the dispatcher runs there, what it writes on their
 * stdin, and the parsers the VM's end (the lame cloud, test SSH hosts) reads
 * them with. Both ends import this module, so they cannot disagree.
 *
 * The forms follow the reference dispatcher (lib/dispatchcloud/worker/
 * runner.go, worker.go, verify.go, pool.go) and crunch-run:
 *
 * | what | command | stdin |
 * | --- | --- | --- |
 * | start | `crunch-run --detach --stdin-config '--runtime-engine=docker' 'ARG'... 'UUID'` | `CrunchRunConfig` JSON |
 * | list | `crunch-run --list [--stdin-prices]` | the price history, with `--stdin-prices` only |
 * | signal | `crunch-run --kill 15 UUID` | |
 * | runner check | `md5sum /tmp/arvados-crunch-run/crunch-run~HEX` | |
 * | runner install | `sudo sh -c 'set -e; ...; cat >"$tmpfile"; ...; mv ...'` | the binary |
 * | host key trust | `cat /var/run/arvados-instance-secret` | |
 *
 * Every builder returns the command without `sudo`; callers apply
 * `withSudo(cmd, instance.remoteUser)`, as the reference does for each of
 * them except `md5sum` (the runner file is world-readable) and the install
 * command (which wraps itself in `sudo sh -c`).
 */
import type { PricePoint } from '../cloud/types.js';
import { parseCommandLine, shellWord } from '../ssh/shell-words.js';
import { shellQuote } from '../ssh/util.js';

/** Where the init command leaves the instance secret on the VM (root-only). */
export const INSTANCE_SECRET_PATH = '/var/run/arvados-instance-secret';

/** Prefixes `sudo ` unless the remote user is root (the reference's rule). */
export function withSudo(cmd: string, remoteUser: string): string {
  return remoteUser === 'root' ? cmd : `sudo ${cmd}`;
}

// ---------------------------------------------------------------- crunch-run

/**
 * `crunch-run --list`, plus `--stdin-prices` when the caller writes the
 * instance's price history on stdin: crunch-run reads stdin in list mode only
 * with that flag, and passes the prices to the running containers' crunch-run
 * processes, which use them for the container's cost. `crunchRunCommand` is
 * inserted as is (not quoted): it is the configured
 * `Containers.CrunchRunCommand`, which may hold several words (e.g.
 * `/usr/bin/arvados-server crunch-run`), or the deployed path.
 */
export function crunchRunListCommand(crunchRunCommand: string, opts: { stdinPrices?: boolean } = {}): string {
  return `${crunchRunCommand} --list${opts.stdinPrices ? ' --stdin-prices' : ''}`;
}

/**
 * The price history as crunch-run reads it on `--list --stdin-prices`: the
 * JSON of the reference's `[]cloud.InstancePrice`,
 * `[{"StartTime": RFC 3339, "Price": n}]`, times written as Go writes them
 * (no fractional seconds when there are none).
 */
export function priceHistoryJSON(prices: readonly PricePoint[]): string {
  const time = (ms: number) => new Date(ms).toISOString().replace(/\.(\d*?)0*Z$/, (_, f: string) => (f ? `.${f}Z` : 'Z'));
  return JSON.stringify(prices.map((p) => ({ StartTime: time(p.startTime), Price: p.price })));
}

export interface DetachCommandOptions {
  /** `Containers.CrunchRunCommand`, or the deployed runner path. Inserted unquoted. */
  crunchRunCommand: string;
  /** `Containers.RuntimeEngine`. */
  runtimeEngine: string;
  /** `Containers.CrunchRunArgumentsList`. */
  argumentsList: readonly string[];
  /** The container UUID. */
  uuid: string;
}

/**
 * `crunch-run --detach --stdin-config '--runtime-engine=ENGINE' 'ARG'... 'UUID'`:
 * starts crunch-run in the background; the caller writes the
 * `CrunchRunConfig` JSON on stdin. Every argument after `--stdin-config` is
 * single-quoted, as the reference does.
 */
export function crunchRunDetachCommand(opts: DetachCommandOptions): string {
  const [detach, stdinConfig, ...rest] = crunchRunDetachCommandArgs(opts.runtimeEngine, opts.argumentsList, opts.uuid);
  return `${opts.crunchRunCommand} ${detach} ${stdinConfig} ${rest.map(shellQuote).join(' ')}`;
}

/** The arguments `crunchRunDetachCommand` gives crunch-run, as crunch-run receives them. */
export function crunchRunDetachCommandArgs(runtimeEngine: string, argumentsList: readonly string[], uuid: string): string[] {
  return ['--detach', '--stdin-config', `--runtime-engine=${runtimeEngine}`, ...argumentsList, uuid];
}

/**
 * `crunch-run --kill 15 UUID`: sends `signal` to the container's crunch-run.
 * It exits 0 once the process is gone (or was never there), 1 if it is still
 * alive after about a second; the caller re-sends every TimeoutSignal.
 */
export function crunchRunKillCommand(crunchRunCommand: string, uuid: string, signal = 15): string {
  if (!Number.isInteger(signal) || signal < 0) throw new RangeError(`signal must be a non-negative integer, got ${signal}`);
  return `${crunchRunCommand} --kill ${signal} ${shellWord(uuid)}`;
}

/**
 * The JSON crunch-run reads on stdin with `--stdin-config` (the reference's
 * `crunchrun.ConfigData`). `Cluster` is the whole cluster config in the
 * reference's Go JSON form when LocalKeepBlobBuffersPerVCPU > 0 (crunch-run
 * needs it to start the container's local keepstore), else null.
 */
export interface CrunchRunConfig {
  Env: {
    ARVADOS_API_HOST: string;
    ARVADOS_API_TOKEN: string;
    ARVADOS_API_HOST_INSECURE?: string;
    /** The instance type record, Go's indented JSON of it. */
    InstanceType: string;
    GatewayAddress?: string;
    GatewayAuthSecret?: string;
    [key: string]: string | undefined;
  };
  KeepBuffers: number;
  EC2SpotCheck: boolean;
  Cluster: Record<string, unknown> | null;
}

// ---------------------------------------------------------------- runner deployment

/** `md5sum PATH`, run without sudo as the reference does. */
export function runnerMd5Command(path: string): string {
  return `md5sum ${shellWord(path)}`;
}

/**
 * What `runnerMd5Command(path)` prints, exactly, when the file is in place:
 * GNU md5sum's `<hex>  <path>\n`. The reference compares byte for byte and
 * also requires empty stderr.
 */
export function runnerMd5Expected(md5hex: string, path: string): string {
  return `${md5hex}  ${path}\n`;
}

/**
 * Installs the runner binary (given on stdin) at `path`.
 *
 * The reference writes the file in place (`cat >"$dstfile"`). This writes a
 * temporary file in the same directory and renames it over `path`, so a
 * concurrent `md5sum` never sees a partly written file and a crunch-run
 * already executing the old file is not disturbed (no "text file busy"). The
 * directory and the file are made mode 0755, before the data lands, as in the
 * reference. Not root: the whole script runs under `sudo sh -c '...'`.
 *
 * Unlike the reference, it refuses a directory that is a symlink or that
 * another user owns (`-O`: owned by the user running the script, which is
 * root on a VM). The default directory is in /tmp, where any local account
 * could make it first, and root writing into it (the temporary file, the
 * chmod) would then follow that account's symlinks to any file; the binary
 * could also be swapped between the md5 check and `sudo crunch-run`. The
 * temporary file comes from mktemp, not a guessable `$$` name. The check
 * does not cover the directories above: a DeployRunnerDirectory under a
 * directory another user can write to is not safe.
 */
export function runnerInstallCommand(path: string, remoteUser: string): string {
  const slash = path.lastIndexOf('/');
  // Without trailing slashes: `[ -L dir/ ]` follows the link.
  const dir = (slash > 0 ? path.slice(0, slash) : '/').replace(/(?<=.)\/+$/, '');
  const script =
    `set -e; dstdir=${shellQuote(dir)}; dstfile=${shellQuote(path)}; mkdir -p "$dstdir"; ` +
    `if [ -L "$dstdir" ] || [ ! -d "$dstdir" ] || [ ! -O "$dstdir" ]; then ` +
    `echo "refusing to install crunch-run: $dstdir is a symlink, not a directory, or not owned by $(id -un)" >&2; exit 1; fi; ` +
    `chmod 0755 "$dstdir"; tmpfile=$(mktemp "$dstfile.tmp.XXXXXX"); ` +
    `chmod 0755 "$tmpfile"; cat >"$tmpfile"; mv -f "$tmpfile" "$dstfile"`;
  return remoteUser === 'root' ? script : `sudo sh -c ${shellQuote(script)}`;
}

/**
 * The destination path of a runner install command: ours, or the
 * reference's (`... dstfile="PATH"; ... cat >"$dstfile"`), with or without
 * the `sudo sh -c` wrapper. Undefined for anything else.
 */
export function parseRunnerInstallCommand(cmd: string): string | undefined {
  let script = cmd;
  try {
    const parsed = parseCommandLine(cmd);
    if (parsed.argv.length === 3 && parsed.argv[0] === 'sh' && parsed.argv[1] === '-c') script = parsed.argv[2];
  } catch {
    // Not a simple command: the script itself (root user).
  }
  if (!/^set -e; dstdir=/.test(script) || !/cat >"\$(dstfile|tmpfile)"/.test(script)) return undefined;
  const m = /dstfile=('(?:[^']|'\\'')*'|"[^"]*")/.exec(script);
  if (!m) return undefined;
  return m[1].startsWith('"') ? m[1].slice(1, -1) : parseCommandLine(m[1]).argv[0];
}

// ---------------------------------------------------------------- instance secret

/** Reads the instance secret (run with `withSudo`: the file is root-only). */
export function instanceSecretCommand(): string {
  return `cat ${INSTANCE_SECRET_PATH}`;
}

/**
 * The init command line that leaves `secret` on the VM, as the reference's
 * TagVerifier writes it (Go `%q` of a hex string is the string in double
 * quotes). `umask 0177` makes the file readable by root only.
 */
export function initCommandForSecret(secret: string): string {
  if (!/^[0-9a-zA-Z]*$/.test(secret)) throw new Error('instance secret must be alphanumeric');
  return `umask 0177 && echo -n "${secret}" >${INSTANCE_SECRET_PATH}`;
}

/**
 * The whole init command a new instance gets, as the reference builds it:
 * the secret line first, then `InstanceInitCommand`. Nothing the configured
 * command does (exit, exec, fail) can then keep the secret from being
 * written, and without it the dispatcher would never trust the VM.
 */
export function instanceInitCommand(secret: string, configured: string): string {
  return `${initCommandForSecret(secret)}\n${configured}`;
}

/** The secret written by `initCommandForSecret`, found anywhere in a (possibly longer) init script. */
export function parseInitCommandSecret(script: string): string | undefined {
  const path = INSTANCE_SECRET_PATH.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`echo -n "([0-9a-zA-Z]*)" >${path}`).exec(script);
  return m?.[1];
}
