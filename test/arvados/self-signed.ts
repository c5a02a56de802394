/**
 * A self-signed X.509 certificate for 127.0.0.1 (or a DNS name), made with
 * node:crypto alone: Node can sign but not build certificates, so the few
 * DER structures an ECDSA P-256 or RSA certificate needs are encoded here.
 */
import { generateKeyPairSync, sign, X509Certificate } from 'node:crypto';

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(content.length), content]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);
const explicit = (n: number, ...parts: Buffer[]): Buffer => tlv(0xa0 + n, ...parts);

function int(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  if (bytes.length === 0 || bytes[0] & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

const ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const RSA_SHA256 = '1.2.840.113549.1.1.11';
const COMMON_NAME = '2.5.4.3';
const SUBJECT_ALT_NAME = '2.5.29.17';

export interface SelfSigned {
  cert: string;
  key: string;
}

export interface SelfSignedOptions {
  /** The certificate's name (CN and the only subjectAltName) instead of 127.0.0.1. */
  dnsName?: string;
  /** An RSA key (2048 bits) instead of ECDSA P-256. */
  rsa?: boolean;
  /** Validity as ASN.1 UTCTime, YYMMDDhhmmssZ (years 1950-2049); default 2020-2049. */
  notBefore?: string;
  notAfter?: string;
}

/** A certificate for CN=127.0.0.1 (and that IP as subjectAltName), valid 2020-2049, or as `opts` say. */
export function selfSignedCertificate(opts: SelfSignedOptions = {}): SelfSigned {
  const { privateKey, publicKey } = opts.rsa ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const cn = opts.dnsName ?? '127.0.0.1';
  const name = seq(set(seq(oid(COMMON_NAME), tlv(0x0c, Buffer.from(cn)))));
  // RSA's algorithm identifier has explicit NULL parameters; ECDSA's has none.
  const algorithm = opts.rsa ? seq(oid(RSA_SHA256), tlv(0x05)) : seq(oid(ECDSA_SHA256));
  const altName = opts.dnsName === undefined ? tlv(0x87, Buffer.from([127, 0, 0, 1])) : tlv(0x82, Buffer.from(opts.dnsName));
  const san = seq(oid(SUBJECT_ALT_NAME), tlv(0x04, seq(altName)));
  const tbs = seq(
    explicit(0, int(2)),
    int(Math.floor(Math.random() * 2 ** 40) + 1),
    algorithm,
    name,
    seq(tlv(0x17, Buffer.from(opts.notBefore ?? '200101000000Z')), tlv(0x17, Buffer.from(opts.notAfter ?? '491231235959Z'))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(san)),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, algorithm, tlv(0x03, Buffer.from([0]), signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  // Fails loudly here, not in a confusing TLS error later, if the encoding is wrong.
  new X509Certificate(cert);
  return { cert, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
