/**
 * Small pure helpers of the SSH executor: addresses, shell quoting, host key
 * fingerprints and comparison, exit statuses.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { constants as osConstants } from 'node:os';

/** Where to connect. */
export interface SshTarget {
  host: string;
  port: number;
}

/**
 * Parses `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address
 * (several colons and no brackets: no port can be given that way). Throws an
 * Error saying what is wrong.
 */
export function parseTarget(target: string, defaultPort: number): SshTarget {
  const text = target.trim();
  if (text === '') throw new Error('no address');
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::([^:]*))?$/.exec(text);
    if (!m) throw new Error(`malformed address ${JSON.stringify(target)}`);
    host = m[1];
    portText = m[2];
  } else {
    const colons = text.split(':').length - 1;
    if (colons === 1) {
      [host, portText] = text.split(':');
    } else {
      host = text;
    }
  }
  if (host === '') throw new Error(`no host in address ${JSON.stringify(target)}`);
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText)) throw new Error(`bad port in address ${JSON.stringify(target)}`);
    port = Number(portText);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`port ${port} out of range in address ${JSON.stringify(target)}`);
  }
  return { host, port };
}

/** `host:port`, with IPv6 hosts in brackets: the form used in messages and logs. */
export function formatTarget(t: SshTarget): string {
  return t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** Single-quotes a word for a POSIX shell: `it's` -> `'it'\''s'`. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The command line with `VAR='value' ` prefixes, one per variable, in name
 * order (so the line is deterministic). sshd usually refuses SSH `env`
 * requests (AcceptEnv), so the shell on the other side sets them instead.
 * Names are checked because they cannot be quoted.
 */
export function withEnvPrefix(command: string, env: Record<string, string> | undefined): string {
  if (!env) return command;
  const names = Object.keys(env).sort();
  let prefix = '';
  for (const name of names) {
    if (!ENV_NAME.test(name)) throw new Error(`invalid environment variable name ${JSON.stringify(name)}`);
    prefix += `${name}=${shellQuote(env[name])} `;
  }
  return prefix + command;
}

/** `SHA256:<base64, unpadded>` of a public key blob, as `ssh-keygen -l` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Constant-time key comparison (keys of different lengths differ). */
export function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The exit status a shell would report for a command killed by `signal`
 * (`SIGTERM` or `TERM`): 128 + its number, or -1 when the name is unknown.
 */
export function exitCodeForSignal(signal: string | undefined): number {
  if (!signal) return -1;
  const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as keyof typeof osConstants.signals;
  const num = osConstants.signals[name];
  return typeof num === 'number' ? 128 + num : -1;
}
