/**
 * `Containers.CloudVMs.SSHPort` as a TCP port number. The reference hands
 * the value to Go's dialer, which takes a number or a service name (looked
 * up in the services database), and an empty value means the `ssh`
 * service. So `ssh`, `2222` and a site's own name from /etc/services all
 * work, as they do there; a name nobody knows is a start-up error naming
 * the key, rather than every connection failing later.
 */
import { readFileSync } from 'node:fs';

/**
 * Names Go's resolver knows even without a services file; the services
 * file adds to them (and wins where both have a name).
 */
const BUILT_IN_TCP_SERVICES: Readonly<Record<string, number>> = {
  ftp: 21,
  ftps: 990,
  gopher: 70,
  http: 80,
  https: 443,
  imap2: 143,
  imap3: 220,
  imaps: 993,
  pop3: 110,
  pop3s: 995,
  smtp: 25,
  submissions: 465,
  ssh: 22,
  telnet: 23,
};

export class SshPortError extends Error {
  override name = 'SshPortError';
}

/** TCP services in services(5) format: `name port/proto [aliases...] [# comment]`, names lowercased. */
export function parseServices(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/);
    const m = /^(\d+)\/tcp$/i.exec(fields[1] ?? '');
    if (!m) continue;
    const port = Number(m[1]);
    if (port > 65535) continue;
    for (const name of [fields[0], ...fields.slice(2)]) {
      const key = name.toLowerCase();
      // The first entry for a name wins, as in the C library's lookup.
      if (!out.has(key)) out.set(key, port);
    }
  }
  return out;
}

function readServices(path: string): Map<string, number> {
  try {
    return parseServices(readFileSync(path, 'utf8'));
  } catch {
    // No services database (a minimal container): the built-in names still work.
    return new Map();
  }
}

/**
 * The port `value` names: a decimal number (0-65535), or a TCP service name
 * (case-insensitive) from `servicesFile` or the built-in list; empty means
 * `ssh`. Throws SshPortError naming `key` otherwise.
 */
export function resolveSshPort(value: string, key = 'Containers.CloudVMs.SSHPort', servicesFile = '/etc/services'): number {
  const v = value.trim() === '' ? 'ssh' : value.trim();
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n <= 65535) return n;
    throw new SshPortError(`${key}: port ${v} is out of range (0-65535)`);
  }
  const name = v.toLowerCase();
  const port = readServices(servicesFile).get(name) ?? (Object.hasOwn(BUILT_IN_TCP_SERVICES, name) ? BUILT_IN_TCP_SERVICES[name] : undefined);
  if (port === undefined) {
    throw new SshPortError(`${key}: "${v}" is neither a port number nor a TCP service name in ${servicesFile}`);
  }
  return port;
}
