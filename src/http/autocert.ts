/**
 * Server certificates from the autocert cache, for a cluster whose
 * `TLS.ACME.Server` is set, as the reference's services take them
 * (lib/service/tls.go): `arvados-server boot` obtains and renews them from
 * the ACME server and keeps them in /var/lib/arvados/tmp/autocert; the
 * services only read that directory. This daemon never asks for a
 * certificate itself: for a name with no usable file the handshake fails,
 * with a (rate-limited) warning, until the supervisor writes one.
 *
 * The cache is golang.org/x/crypto/acme/autocert's DirCache: one file per
 * certificate, named after the server name (lower case, punycode, no final
 * dot) for an ECDSA key, and that name plus "+rsa" for an RSA key. A file
 * holds the private key in PEM, then the certificate chain in PEM, leaf
 * first; files are replaced by renaming, never rewritten in place.
 *
 * The name is the one the client asks for (SNI). Autocert picks one of the
 * two files by what the client says it supports. Node's SNI callback sees
 * none of that, and the context it returns serves one certificate, so here
 * the ECDSA file is served when it is usable, else the RSA one. A client
 * that could take ECDSA thus gets the RSA certificate when that is the only
 * one (as `arvados-server boot` writes them: it asks autocert for the
 * certificate with no client details, which makes it RSA), where the
 * reference fails the handshake; a client that takes only RSA is refused
 * while there is a usable ECDSA file, where the reference serves it.
 *
 * A file is usable, as autocert checks it, when its first block is a
 * private key and the rest certificates, and the leaf is valid now, names the
 * server (its subjectAltName, not its CN), and belongs to the key, which is
 * of the type the file's name says. What was read is kept in memory and used
 * as long as neither file changes (name, inode, size, modification time,
 * checked at each handshake) and no certificate served expires; the
 * supervisor's renewal is then picked up at the next handshake.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { domainToASCII } from 'node:url';
import type { ServerOptions } from 'node:https';
import type { Clock } from '../clock/index.js';
import { type Logger, RateLimitedLog } from '../log.js';
import { TLS_SETTINGS } from './tls.js';

/** Where `arvados-server boot` keeps the certificates it obtains (the reference's path). */
export const AUTOCERT_CACHE_DIR = '/var/lib/arvados/tmp/autocert';

/** No file for the name yet: the reference's words, since the fix is the same (the supervisor writes it). */
export class CertUnavailableError extends Error {
  override readonly name = 'CertUnavailableError';

  constructor() {
    super('certificate unavailable, waiting for supervisor to update cache');
  }
}

/** There are files for the name, but none is usable (expired, another name, corrupt). */
export class CertUnusableError extends Error {
  override readonly name = 'CertUnusableError';
}

/** The client asked for no name, or one that is no DNS name: there is no file to look for. */
export class ServerNameError extends Error {
  override readonly name = 'ServerNameError';
}

export interface AutocertOptions {
  /** The cache directory; default AUTOCERT_CACHE_DIR. */
  dir?: string;
  /** For validity dates and for rate-limiting the warnings. */
  clock: Clock;
  log: Logger;
}

/** What was read for a name, and what it was read from. */
interface Entry {
  /** The identity of both files when read; any change means read again. */
  signature: string;
  context: SecureContext;
  /** When to read again regardless: when the certificate served expires, or an unusable one becomes valid. */
  until: number;
}

/** One cache file, checked. */
type Loaded = { ok: true; key: string; chain: string; notAfter: number } | { ok: false; file: string; reason: string; gone?: boolean; validFrom?: number };

/** The key type each file name holds, as autocert names them, in the order they are preferred. */
const FILES: ReadonlyArray<{ suffix: string; keyType: 'ec' | 'rsa' }> = [
  { suffix: '', keyType: 'ec' },
  { suffix: '+rsa', keyType: 'rsa' },
];

/** Reads certificates from the autocert cache for an https server's SNI callback. */
export class AutocertCache {
  private readonly dir: string;
  private readonly entries = new Map<string, Entry>();
  private readonly warnings: RateLimitedLog;

  constructor(private readonly opts: AutocertOptions) {
    this.dir = opts.dir ?? AUTOCERT_CACHE_DIR;
    this.warnings = new RateLimitedLog(opts.log, opts.clock);
  }

  /**
   * Options for `https.createServer`: no certificate of its own, so a client
   * that sends no server name fails the handshake, as in the reference.
   */
  serverOptions(): ServerOptions {
    return {
      ...TLS_SETTINGS,
      SNICallback: (servername, cb) => {
        this.secureContext(servername).then(
          (context) => cb(null, context),
          (err: Error) => {
            this.warnFor(servername, err);
            cb(err);
          },
        );
      },
    };
  }

  /**
   * The context for a handshake asking for `servername`. Rejects with
   * ServerNameError, CertUnavailableError or CertUnusableError.
   */
  async secureContext(servername: string): Promise<SecureContext> {
    const name = cacheName(servername);
    const files = FILES.map((f) => ({ ...f, path: join(this.dir, name + f.suffix) }));
    // Only a file that is not there is missing: another error (a directory
    // this user may not read) is reported by the read that follows.
    const stats = await Promise.all(
      files.map((f) => stat(f.path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : err))),
    );
    const signature = stats.map((s) => (s instanceof Error ? `!${s.code}` : s ? `${s.ino}:${s.size}:${s.mtimeMs}` : '-')).join(' ');
    const now = this.opts.clock.now();
    const cached = this.entries.get(name);
    if (cached && cached.signature === signature && now < cached.until) return cached.context;
    this.entries.delete(name);
    if (stats.every((s) => s === undefined)) throw new CertUnavailableError();

    const loaded: Loaded[] = await Promise.all(
      files.filter((_, i) => stats[i] !== undefined).map((f) => loadFile(f.path, f.keyType, name, now)),
    );
    const usable = loaded.filter((l): l is Extract<Loaded, { ok: true }> => l.ok);
    const unusable = loaded.filter((l): l is Extract<Loaded, { ok: false }> => !l.ok);
    if (usable.length === 0) {
      // A file removed between the stat and the read is a file not there yet.
      if (unusable.every((u) => u.gone)) throw new CertUnavailableError();
      throw new CertUnusableError(unusable.map((u) => `${u.file}: ${u.reason}`).join('; '));
    }
    for (const u of unusable) this.warnings.warn('unusable certificate in autocert cache', { ServerName: name, File: u.file, error: u.reason });
    const [served] = usable;
    const context = createSecureContext({ ...TLS_SETTINGS, key: served.key, cert: served.chain });
    // A preferred file that becomes valid later is read again then.
    const pending = unusable.flatMap((u) => (u.validFrom !== undefined ? [u.validFrom] : []));
    this.entries.set(name, { signature, context, until: Math.min(served.notAfter, ...pending) });
    return context;
  }

  /** One line a minute at most per kind of failure: the server names come from clients, so anyone can make more. */
  private warnFor(servername: string, err: Error): void {
    if (err instanceof CertUnavailableError) {
      this.warnings.warn(err.message, { ServerName: servername, Directory: this.dir });
    } else if (err instanceof CertUnusableError) {
      this.warnings.warn('unusable certificate in autocert cache', { ServerName: servername, error: err.message });
    } else {
      this.warnings.warn('TLS handshake refused: no certificate for this server name', { ServerName: servername, error: err.message });
    }
  }
}

/**
 * The cache's name for what a client asked for, checked as autocert checks
 * it: a DNS name with at least two labels, in lower case and punycode, no
 * final dot. Only letters, digits, dots and hyphens remain, so the name
 * cannot reach outside the directory.
 */
export function cacheName(servername: string): string {
  if (servername === '') throw new ServerNameError('missing server name');
  if (!servername.replace(/^\.+|\.+$/g, '').includes('.')) throw new ServerNameError('server name component count invalid');
  // Checked before the conversion too, which reads its input as a URL's host
  // and so would make "a/b.example" "a".
  const invalid = new ServerNameError('server name contains invalid character');
  if ([...servername].some((ch) => ch <= '\x7f' && !/[A-Za-z0-9.-]/.test(ch))) throw invalid;
  const ascii = domainToASCII(servername).replace(/\.$/, '');
  if (ascii === '' || !/^[a-z0-9.-]+$/.test(ascii)) throw invalid;
  // Again after the conversion, which maps the other full stops ("。", "．")
  // to dots: "。.。" becomes "..", which is no name and, as a file name,
  // the parent directory.
  const labels = ascii.split('.');
  if (labels.length < 2) throw new ServerNameError('server name component count invalid');
  if (labels.includes('')) throw invalid;
  return ascii;
}

/** Reads and checks one cache file; never throws. */
async function loadFile(path: string, keyType: 'ec' | 'rsa', name: string, now: number): Promise<Loaded> {
  const fail = (reason: string, validFrom?: number): Loaded => ({ ok: false, file: path, reason, validFrom });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, file: path, reason: (err as Error).message, gone: (err as NodeJS.ErrnoException).code === 'ENOENT' };
  }
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g)];
  const outside = blocks.reduce((rest, b) => rest.replace(b[0], ''), text);
  if (blocks.length === 0 || outside.trim() !== '') return fail('not PEM blocks only');
  const [keyBlock, ...certBlocks] = blocks;
  if (!keyBlock[1].includes('PRIVATE')) return fail('the first PEM block is not a private key');
  if (certBlocks.length === 0 || certBlocks.some((b) => b[1] !== 'CERTIFICATE')) return fail('no certificate chain after the key');
  let key: KeyObject;
  let leaf: X509Certificate;
  try {
    key = createPrivateKey(keyBlock[0]);
    leaf = new X509Certificate(certBlocks[0][0]);
    for (const b of certBlocks.slice(1)) new X509Certificate(b[0]);
  } catch (err) {
    return fail(`cannot parse: ${(err as Error).message}`);
  }
  const validFrom = Date.parse(leaf.validFrom);
  const notAfter = Date.parse(leaf.validTo);
  if (now < validFrom) return fail(`certificate is not valid yet (from ${leaf.validFrom})`, validFrom);
  if (now > notAfter) return fail(`expired certificate (${leaf.validTo})`);
  const names = isIP(name) ? leaf.checkIP(name) : leaf.checkHost(name, { subject: 'never', partialWildcards: false });
  if (names === undefined) return fail(`certificate is not for ${name}`);
  if (key.asymmetricKeyType !== keyType) return fail(`${key.asymmetricKeyType ?? 'unknown'} key where the file name says ${keyType === 'ec' ? 'ECDSA' : 'RSA'}`);
  if (!leaf.checkPrivateKey(key)) return fail('private key does not match public key');
  return { ok: true, key: keyBlock[0], chain: certBlocks.map((b) => b[0]).join('\n') + '\n', notAfter };
}
