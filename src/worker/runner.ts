/**
 * The command lines the dispatcher sends to a worker VM, and the parsers the
 * lame cloud's emulated VM uses to read them back. Builders and parsers live
 * side by side so that the two ends can never disagree about quoting.
 *
 * The forms follow the reference dispatcher (lib/dispatchcloud/worker/
 * runner.go, worker.go, verify.go; ARVADOS.md section 2):
 *
 * | what | command |
 * | --- | --- |
 * | start | `crunch-run --detach --stdin-config '--runtime-engine=docker' 'ARG'... 'UUID'` (config JSON on stdin) |
 * | list | `crunch-run --list` |
 * | signal | `crunch-run --kill 15 UUID` |
 * | runner check | `md5sum /tmp/arvados-crunch-run/crunch-run~HEX` |
 * | runner install | `sudo sh -c 'set -e; ...; cat >"$tmpfile"; ...; mv ...'` (binary on stdin) |
 * | host key trust | `cat /var/run/arvados-instance-secret` |
 *
 * Every builder returns the command without `sudo`; callers apply
 * `withSudo(cmd, instance.remoteUser)`, as the reference does for each of
 * them except `md5sum` (the runner file is world-readable) and the install
 * command (which wraps itself in `sudo sh -c`).
 */
import { createHmac } from 'node:crypto';
import type { CrunchRunConfig } from '../arvados/types.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { shellQuote } from '../ssh/util.js';

/** Where the init command leaves the instance secret on the VM (root-only). */
export const INSTANCE_SECRET_PATH = '/var/run/arvados-instance-secret';

// ---------------------------------------------------------------- quoting

/** One POSIX shell word, single-quoted (`'` written as `'\''`); shared with the SSH executor. */
export { shellQuote };

/** A shell word that needs no quoting (`~` is special only at the start of a word). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-][A-Za-z0-9_@%+=:,./~-]*$/;

/**
 * `arg` as it is when it needs no quoting (UUIDs, plain paths), else
 * `shellQuote(arg)`. Used where the reference writes an argument bare, so
 * that ordinary values produce the reference's exact command line while an
 * unexpected one still cannot inject shell syntax.
 */
export function shellWord(arg: string): string {
  return SAFE_WORD.test(arg) ? arg : shellQuote(arg);
}

/** Prefixes `sudo ` unless the remote user is root (the reference's rule). */
export function withSudo(cmd: string, remoteUser: string): string {
  return remoteUser === 'root' ? cmd : `sudo ${cmd}`;
}

// ---------------------------------------------------------------- crunch-run

/**
 * `crunch-run --list`. `crunchRunCommand` is inserted as is (not quoted): it
 * is the configured `Containers.CrunchRunCommand`, which may hold several
 * words (e.g. `/usr/bin/arvados-server crunch-run`), or the deployed path.
 */
export function crunchRunListCommand(crunchRunCommand: string): string {
  return `${crunchRunCommand} --list`;
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
 * starts crunch-run in the background; the caller writes `crunchRunConfig()`
 * JSON on stdin. Every argument after `--stdin-config` is single-quoted, as
 * the reference does.
 */
export function crunchRunDetachCommand(opts: DetachCommandOptions): string {
  const args = [`--runtime-engine=${opts.runtimeEngine}`, ...opts.argumentsList, opts.uuid];
  return `${opts.crunchRunCommand} --detach --stdin-config ${args.map(shellQuote).join(' ')}`;
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
 * The `GatewayAuthSecret` crunch-run is given for a container: the hex
 * HMAC-SHA256 of the container UUID keyed with the SystemRootToken, as the
 * reference computes it (the controller derives the same value to
 * authenticate to the container gateway).
 */
export function gatewayAuthSecret(systemRootToken: string, uuid: string): string {
  return createHmac('sha256', systemRootToken).update(uuid).digest('hex');
}

/**
 * The value crunch-run gets as ARVADOS_API_HOST. The reference passes the
 * controller's host[:port] and crunch-run always speaks https. An http
 * ExternalURL (test controllers, the demo) is passed whole, scheme included,
 * so crunch-run (the lame cloud's one, at least) can reach it: a value
 * containing `://` is a base URL.
 */
export function apiHostFor(controllerURL: string): string {
  const url = new URL(controllerURL);
  return url.protocol === 'https:' ? url.host : url.origin;
}

/** `host` of an address `host`, `host:port`, `[v6]:port` or a bare IPv6 address, joined with port 0. */
function gatewayAddress(address: string): string {
  let host = address;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) host = bracketed[1];
  else if ((address.match(/:/g) ?? []).length === 1) host = address.slice(0, address.indexOf(':'));
  return host.includes(':') ? `[${host}]:0` : `${host}:0`;
}

export interface CrunchRunConfigOptions {
  cluster: Cluster;
  instanceType: InstanceType;
  /** The instance's address (`Instance.address`); its host part becomes the gateway address. */
  instanceAddress: string;
  uuid: string;
}

/**
 * The JSON written to `crunch-run --detach --stdin-config` (ARVADOS.md
 * section 2), built as the reference's newRemoteRunner builds it: API host
 * and token (the SystemRootToken), the instance type as indented JSON (for
 * crunch-run's logs and cost), the gateway address and secret; KeepBuffers =
 * LocalKeepBlobBuffersPerVCPU x VCPUs; EC2SpotCheck for preemptible types on
 * the ec2 driver. TLS.Insecure is passed as ARVADOS_API_HOST_INSECURE=1, the
 * name the reference uses.
 *
 * The reference also embeds the whole cluster config (`Cluster`) when
 * KeepBuffers > 0; crunch-run only uses it to configure its local keepstore,
 * which a dispatcher does not need to manage, so it is left out here.
 */
export function crunchRunConfig(opts: CrunchRunConfigOptions): CrunchRunConfig {
  const { cluster, instanceType } = opts;
  const env: CrunchRunConfig['Env'] = {
    ARVADOS_API_HOST: apiHostFor(cluster.Services.Controller.ExternalURL),
    ARVADOS_API_TOKEN: cluster.SystemRootToken,
    InstanceType: JSON.stringify(instanceType, null, 4) + '\n',
    GatewayAddress: gatewayAddress(opts.instanceAddress),
    GatewayAuthSecret: gatewayAuthSecret(cluster.SystemRootToken, opts.uuid),
  };
  if (cluster.TLS.Insecure) env.ARVADOS_API_HOST_INSECURE = '1';
  const perVCPU = cluster.Containers.LocalKeepBlobBuffersPerVCPU;
  return {
    Env: env,
    KeepBuffers: perVCPU > 0 ? perVCPU * instanceType.VCPUs : 0,
    EC2SpotCheck: cluster.Containers.CloudVMs.Driver === 'ec2' && instanceType.Preemptible,
  };
}

// ---------------------------------------------------------------- runner deployment

/**
 * Where a deployed runner lives: `DIR/crunch-run~<md5hex>`. The hash in the
 * name means a VM can hold several versions, and a file with the right name
 * and the right md5sum needs no copy.
 */
export function deployedRunnerPath(deployRunnerDirectory: string, md5hex: string): string {
  const dir = deployRunnerDirectory.replace(/\/+$/, '') || '/';
  return `${dir === '/' ? '' : dir}/crunch-run~${md5hex}`;
}

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
 */
export function runnerInstallCommand(path: string, remoteUser: string): string {
  const slash = path.lastIndexOf('/');
  const dir = slash > 0 ? path.slice(0, slash) : '/';
  const script =
    `set -e; dstdir=${shellQuote(dir)}; dstfile=${shellQuote(path)}; ` +
    `mkdir -p "$dstdir"; chmod 0755 "$dstdir"; tmpfile="$dstfile.tmp.$$"; ` +
    `touch "$tmpfile"; chmod 0755 "$tmpfile"; cat >"$tmpfile"; mv -f "$tmpfile" "$dstfile"`;
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
 * The init command that leaves `secret` on the VM, as the reference's
 * TagVerifier writes it (Go `%q` of a hex string is the string in double
 * quotes). `umask 0177` makes the file readable by root only.
 */
export function initCommandForSecret(secret: string): string {
  if (!/^[0-9a-zA-Z]*$/.test(secret)) throw new Error('instance secret must be alphanumeric');
  return `umask 0177 && echo -n "${secret}" >${INSTANCE_SECRET_PATH}`;
}

/** The secret written by `initCommandForSecret`, found anywhere in a (possibly longer) init script. */
export function parseInitCommandSecret(script: string): string | undefined {
  const path = INSTANCE_SECRET_PATH.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`echo -n "([0-9a-zA-Z]*)" >${path}`).exec(script);
  return m?.[1];
}

// ---------------------------------------------------------------- parsing (the VM side)

/** A command line the VM could not parse as one simple command. */
export class ShellParseError extends Error {
  override name = 'ShellParseError';
}

export interface ParsedCommand {
  /** The words of the command, quotes removed. */
  argv: string[];
  /** `VAR=value` assignments that preceded the command (before or after `sudo`). */
  env: Record<string, string>;
  /** True when the command was prefixed with `sudo`. */
  sudo: boolean;
}

interface Word {
  text: string;
  /** Index of the first `=` outside quotes, if the word begins with an unquoted NAME=. */
  assignment?: { name: string; value: string };
}

/** Characters that mean something to the shell when unquoted; we refuse to guess at them. */
const OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')', '`', '$', '\n']);

function splitWords(cmd: string): Word[] {
  const words: Word[] = [];
  let i = 0;
  const n = cmd.length;
  while (i < n) {
    while (i < n && (cmd[i] === ' ' || cmd[i] === '\t')) i++;
    if (i >= n) break;
    let text = '';
    let raw = '';
    let assignmentAt = -1;
    while (i < n && cmd[i] !== ' ' && cmd[i] !== '\t') {
      const c = cmd[i];
      if (c === "'") {
        const end = cmd.indexOf("'", i + 1);
        if (end < 0) throw new ShellParseError('unterminated single quote');
        text += cmd.slice(i + 1, end);
        raw += 'q';
        i = end + 1;
      } else if (c === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new ShellParseError('unterminated double quote');
          const d = cmd[i];
          if (d === '"') break;
          if (d === '$' || d === '`') throw new ShellParseError(`unsupported ${d} inside double quotes`);
          if (d === '\\' && i + 1 < n && '$`"\\\n'.includes(cmd[i + 1])) {
            if (cmd[i + 1] !== '\n') text += cmd[i + 1];
            i += 2;
          } else {
            text += d;
            i++;
          }
        }
        raw += 'q';
        i++;
      } else if (c === '\\') {
        if (i + 1 >= n) throw new ShellParseError('trailing backslash');
        if (cmd[i + 1] !== '\n') text += cmd[i + 1];
        raw += 'q';
        i += 2;
      } else if (OPERATORS.has(c)) {
        throw new ShellParseError(`unsupported shell syntax ${JSON.stringify(c)}`);
      } else {
        if (c === '=' && assignmentAt < 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(raw)) assignmentAt = text.length;
        text += c;
        raw += c;
        i++;
      }
    }
    const word: Word = { text };
    if (assignmentAt >= 0) word.assignment = { name: text.slice(0, assignmentAt), value: text.slice(assignmentAt + 1) };
    words.push(word);
  }
  return words;
}

/**
 * Parses one simple shell command as the dispatcher writes them: optional
 * `sudo` (with `-n`/`-E` style flags), `NAME=value` assignments before or
 * after it, then words that may be bare, single-quoted (`'\''` included),
 * double-quoted or backslash-escaped, concatenated freely. Throws
 * ShellParseError on anything a real shell would treat as syntax (`;`, `&&`,
 * `|`, redirections, `$`, backquotes, unterminated quotes): the VM answers
 * those with an error instead of guessing.
 */
export function parseCommandLine(cmd: string): ParsedCommand {
  const words = splitWords(cmd);
  const env: Record<string, string> = {};
  let sudo = false;
  let i = 0;
  for (; i < words.length; i++) {
    const w = words[i];
    if (w.assignment) {
      env[w.assignment.name] = w.assignment.value;
    } else if (w.text === 'sudo' && !sudo) {
      sudo = true;
      while (i + 1 < words.length && /^-[a-zA-Z]+$/.test(words[i + 1].text)) i++;
    } else {
      break;
    }
  }
  return { argv: words.slice(i).map((w) => w.text), env, sudo };
}
