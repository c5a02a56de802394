/**
 * Where the daemon listens, decided as the reference's service command
 * decides it (lib/service/cmd.go, getListenAddr):
 *
 * - `ARVADOS_SERVICE_INTERNAL_URL` set: that InternalURL (its ListenURL when
 *   it has one); a URL the config does not list is still used, with a
 *   warning.
 * - otherwise the InternalURL local to this host: for each one (config
 *   order; the reference's map order is random), its ListenURL or the URL
 *   itself is tried by binding its host and port. An address this host does
 *   not have (EADDRNOTAVAIL) means "another host's URL": skipped. The first
 *   that binds wins. When none does, the start fails: with the other bind
 *   errors if there were any (port taken, name not found, ...), else with
 *   "configuration does not enable the service on this host".
 *
 * A host name is bound at one of its addresses, as Go binds one: the first
 * IPv4 address it resolves to, else the first (bindAddress). Node's own
 * choice would be the first the system gives, often `::1` for `localhost`.
 *
 * The listen URL and the InternalURL may differ in scheme: a proxy may
 * terminate TLS in front of a plain-HTTP listener. A URL with a port and no
 * host (`http://:9006`) binds every address, as Go's net.Listen binds ":9006".
 */
import { lookup } from 'node:dns/promises';
import { createServer, isIP } from 'node:net';
import type { Logger } from '../log.js';
import { isHostless, parseListenURL, sameURL, withRootPath } from '../config/urls.js';

/** The reference's service name, used in its messages. */
export const SERVICE_NAME = 'arvados-dispatch-cloud';

/** The environment variable that names which InternalURL this process is. */
export const INTERNAL_URL_ENV = 'ARVADOS_SERVICE_INTERNAL_URL';

export interface ListenChoice {
  /** Where to bind, with the scheme that says whether to serve TLS. */
  listenURL: string;
  /** The URL clients use to reach this process. */
  internalURL: string;
}

/** The daemon cannot tell where to listen; the message is the reference's. */
export class ListenChoiceError extends Error {
  override readonly name = 'ListenChoiceError';
}

export interface ServiceURLs {
  InternalURLs: readonly string[];
  ListenURLs: Readonly<Record<string, string>>;
}

/** What a bind attempt found: it bound (and let go), the address is not this host's, or another error. */
export type BindProbe = (host: string, port: number) => Promise<'ok' | 'not-local' | Error>;

/** Chooses the listen URL; rejects with ListenChoiceError as the reference refuses to start. */
export async function chooseListenURL(
  svc: ServiceURLs,
  opts: { env?: NodeJS.ProcessEnv; log: Logger; probe?: BindProbe },
): Promise<ListenChoice> {
  const env = opts.env ?? process.env;
  const probe = opts.probe ?? probeBind;
  const wanted = env[INTERNAL_URL_ENV];
  if (wanted) {
    let normalized: string;
    try {
      parseListenURL(wanted);
      normalized = withRootPath(wanted);
    } catch (err) {
      throw new ListenChoiceError(`$${INTERNAL_URL_ENV} (${JSON.stringify(wanted)}): ${(err as Error).message}`);
    }
    for (const internalURL of svc.InternalURLs) {
      if (sameURL(internalURL, normalized)) return { listenURL: svc.ListenURLs[internalURL] || internalURL, internalURL };
    }
    opts.log.warn(
      `possible configuration error: listening on ${normalized} (from $${INTERNAL_URL_ENV}) even though configuration does not have a matching InternalURLs entry`,
    );
    return { listenURL: normalized, internalURL: normalized };
  }
  const errors: string[] = [];
  for (const internalURL of svc.InternalURLs) {
    const listenURL = svc.ListenURLs[internalURL] || internalURL;
    const { host, port } = hostPortOf(listenURL);
    const found = await probe(host, port);
    if (found === 'ok') return { listenURL, internalURL };
    if (found !== 'not-local') errors.push(`${withRootPath(listenURL)}: ${found.message}`);
  }
  if (errors.length > 0) throw new ListenChoiceError(`could not enable the "${SERVICE_NAME}" service on this host: ${errors.join('; ')}`);
  throw new ListenChoiceError(`configuration does not enable the "${SERVICE_NAME}" service on this host`);
}

/**
 * The host and port to bind for a URL: its port, or the scheme's well-known
 * one (http and ws 80, https and wss 443). IPv6 brackets are removed. The
 * host is '' for a URL without one: Node then binds every address (IPv6
 * and IPv4 where it can), as Go does.
 */
export function hostPortOf(url: string): { host: string; port: number } {
  let u: URL;
  try {
    u = parseListenURL(url);
  } catch {
    throw new ListenChoiceError(`"${url}" is not a URL`);
  }
  const host = isHostless(url) ? '' : u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (u.port !== '') return { host, port: Number(u.port) };
  return { host, port: u.protocol === 'https:' || u.protocol === 'wss:' ? 443 : 80 };
}

/** Every address a host name resolves to, in the system's order. */
export type LookupAll = (host: string) => Promise<Array<{ address: string; family: number }>>;

const lookupAll: LookupAll = (host) => lookup(host, { all: true });

/**
 * The address to bind for `host`, as Go's listener picks it: '' (every
 * address) and IP literals as they are; a name, its first IPv4 address, or
 * its first address when it has no IPv4 one. Rejects when it does not
 * resolve.
 */
export async function bindAddress(host: string, lookupAllFn: LookupAll = lookupAll): Promise<string> {
  if (host === '' || isIP(host) !== 0) return host;
  const addresses = await lookupAllFn(host);
  const chosen = addresses.find((a) => a.family === 4) ?? addresses[0];
  if (!chosen) throw new Error(`${host}: no address`);
  return chosen.address;
}

/** Binds `host:port` (bindAddress) and lets go at once. */
export async function probeBind(host: string, port: number, lookupAllFn: LookupAll = lookupAll): Promise<'ok' | 'not-local' | Error> {
  let address: string;
  try {
    address = await bindAddress(host, lookupAllFn);
  } catch (err) {
    return err as Error;
  }
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EADDRNOTAVAIL' ? 'not-local' : err));
    s.listen({ host: address, port, exclusive: true }, () => s.close(() => resolve('ok')));
  });
}
