/**
 * The server certificate for an https listen URL, from `TLS.Certificate`
 * and `TLS.Key`, as the reference's service command loads it: each is a
 * file path (`/path` or `file:///path`), read at start (a start without a
 * usable pair fails) and read again on SIGHUP and every hour, so a renewed
 * certificate is served without a restart; a failed reload is logged and
 * the previous pair kept. As an extension, either may hold the PEM text
 * itself (then there is nothing to reload).
 *
 * Settings follow the reference's: TLS 1.2 at least, its ECDHE AEAD cipher
 * suites for TLS 1.2, curves P-256 and X25519.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Clock, Timer } from '../clock/index.js';
import type { Logger } from '../log.js';

/** How often the pair is read again, besides SIGHUP. */
export const TLS_RELOAD_INTERVAL_MS = 60 * 60 * 1000;

/** The reference's TLS 1.2 cipher suites, in its order (TLS 1.3 keeps OpenSSL's defaults). */
const CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** The protocol settings every https listener here uses, whatever its certificate's source. */
export const TLS_SETTINGS: Pick<SecureContextOptions, 'minVersion' | 'ciphers' | 'ecdhCurve'> = {
  minVersion: 'TLSv1.2',
  ciphers: CIPHERS,
  ecdhCurve: 'P-256:X25519',
};

/** `TLS.Certificate` and `TLS.Key` as configured, and `TLS.ACME.Server`, which when set makes the server take its certificates from the autocert cache instead (autocert.ts). */
export interface TLSConfig {
  Certificate: string;
  Key: string;
  ACME?: { Server: string };
}

/** Options for `https.createServer` and `setSecureContext`. */
export type KeyPair = Pick<SecureContextOptions, 'cert' | 'key' | 'minVersion' | 'ciphers' | 'ecdhCurve'>;

/**
 * Reads and checks the pair now. Throws "error loading X509 key pair: ..."
 * (the reference's words) when a file cannot be read or the pair is not a
 * certificate and its key.
 */
export function loadKeyPair(tls: TLSConfig): KeyPair {
  let pair: KeyPair;
  try {
    pair = {
      cert: pemOrFile(tls.Certificate),
      key: pemOrFile(tls.Key),
      ...TLS_SETTINGS,
    };
    // Fails on a certificate and key that do not belong together.
    createSecureContext(pair);
  } catch (err) {
    throw new Error(`error loading X509 key pair: ${(err as Error).message}`);
  }
  return pair;
}

/** True when either value names a file, so reloading can pick up a new certificate. */
export function reloadable(tls: TLSConfig): boolean {
  return !isPEM(tls.Certificate) || !isPEM(tls.Key);
}

/**
 * Reloads the pair on SIGHUP and every TLS_RELOAD_INTERVAL_MS into `apply`
 * (the server's `setSecureContext`). Returns the function that stops it.
 */
export function startKeyPairReloader(opts: {
  tls: TLSConfig;
  apply: (pair: KeyPair) => void;
  clock: Clock;
  log: Logger;
  signals?: NodeJS.EventEmitter;
}): () => void {
  const signals = opts.signals ?? process;
  const reload = (): void => {
    let pair: KeyPair;
    try {
      pair = loadKeyPair(opts.tls);
    } catch (err) {
      opts.log.warn('error updating TLS certificate', { error: (err as Error).message });
      return;
    }
    opts.apply(pair);
  };
  const onHup = (): void => reload();
  // Listening for SIGHUP also stops it from ending the process, as in the
  // reference, which catches it only when it serves TLS from files.
  signals.on('SIGHUP', onHup);
  const timer: Timer = opts.clock.setRepeatingTimer(TLS_RELOAD_INTERVAL_MS, reload);
  return () => {
    signals.off('SIGHUP', onHup);
    timer.cancel();
  };
}

function isPEM(value: string): boolean {
  return value.trimStart().startsWith('-----BEGIN ');
}

/**
 * The PEM text itself, or the file it names; `file://` is dropped as the
 * reference drops it. PEM text starts at its BEGIN line: OpenSSL does not
 * find one written indented ("no start line").
 */
function pemOrFile(value: string): string {
  if (isPEM(value)) return value.trimStart();
  const path = value.startsWith('file://') ? value.slice('file://'.length) : value;
  if (path === '') throw new Error('no file configured (TLS.Certificate and TLS.Key name the certificate and key files)');
  return readFileSync(path, 'utf8');
}
