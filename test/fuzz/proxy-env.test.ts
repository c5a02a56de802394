/**
 * The outbound proxy choice (src/net/proxy.ts) and the CA file reader
 * (src/net/trust.ts) on whatever a site's environment holds: they never
 * throw, never proxy loopback, and NO_PROXY always wins for a host it names.
 *
 *   FUZZ_RUNS=10000 npx mocha test/fuzz/proxy-env.test.ts   (or `npm run fuzz`)
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { proxyFunc } from '../../src/net/proxy.js';
import { pemCertificates } from '../../src/net/trust.js';
import { fuzzParams } from './runs.js';

/** Pieces that proxy values and NO_PROXY lists are made of, edges included. */
const piece = fc.constantFrom('http://', 'https://', 'socks5://', 'ftp://', 'user:pw@', 'proxy', 'example.com', '.example.com', '*.example.com', '*', ',', ' ', ':', ':3128', ':443', ':99999', '[', ']', '::1', '10.0.0.1', '10.0.0.0/8', 'fd00::/8', '/33', '127.0.0.1', 'localhost', 'é', 'xn--', '%', '\t');
const envValue = fc.oneof(fc.string({ maxLength: 40 }), fc.array(piece, { maxLength: 8 }).map((p) => p.join('')));
const env = fc.record({ HTTPS_PROXY: envValue, HTTP_PROXY: envValue, NO_PROXY: envValue, https_proxy: envValue, no_proxy: envValue }, { requiredKeys: [] });
const host = fc.constantFrom('example.com', 'api.example.com', 'ec2.us-east-1.amazonaws.com', '10.0.0.1', '10.1.2.3', '[fd00::1]', '[2001:db8::1]', 'xn--bcher-kva.example', 'a-b.c');
const target = fc.tuple(fc.constantFrom('http', 'https'), host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(
  ([scheme, h, port]) => `${scheme}://${h}${port === undefined ? '' : `:${port}`}/`,
);

describe('fuzz: outbound proxy and CA files from the environment', () => {
  it('chooses a proxy of a known scheme, or none, without throwing', () => {
    fc.assert(
      fc.property(env, target, (e, t) => {
        const proxy = proxyFunc(e)(t);
        if (proxy !== undefined) assert.ok(['http:', 'https:', 'socks5:'].includes(proxy.protocol), `${JSON.stringify(e)} ${t} -> ${proxy.href}`);
      }),
      fuzzParams(2000),
    );
  });

  it('never proxies localhost or a loopback address', () => {
    const loopback = fc.constantFrom('http://localhost/', 'https://localhost:8443/', 'http://127.0.0.1:9000/', 'https://127.10.20.30/', 'http://[::1]:80/');
    fc.assert(
      fc.property(env, loopback, (e, t) => assert.equal(proxyFunc(e)(t), undefined, `${JSON.stringify(e)} ${t}`)),
      fuzzParams(2000),
    );
  });

  it('goes direct to a host NO_PROXY names, wherever it sits in the list', () => {
    fc.assert(
      fc.property(env, target, fc.array(envValue, { maxLength: 3 }), (e, t, others) => {
        const named = new URL(t).hostname.replace(/^\[(.*)\]$/, '$1');
        const noProxy = [...others, named].join(',');
        assert.equal(proxyFunc({ ...e, NO_PROXY: noProxy })(t), undefined, `NO_PROXY=${JSON.stringify(noProxy)} ${t}`);
      }),
      fuzzParams(2000),
    );
  });

  it('reads certificates from any text without throwing, skipping what is not one', () => {
    const pemish = fc.array(fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('-----BEGIN CERTIFICATE-----\n', '\n-----END CERTIFICATE-----\n', 'MIIB', '====', '\r\n')), { maxLength: 10 });
    fc.assert(
      fc.property(pemish, (parts) => {
        assert.ok(Array.isArray(pemCertificates(parts.join(''))));
      }),
      fuzzParams(2000),
    );
  });
});
