/**
 * The connections of the EC2 client: outbound proxy and extra CA
 * certificates, from the environment variables the reference's Go SDK
 * reads and the JS SDK does not.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { EnvProxyAgent, type ProxyEnv } from '../../src/net/proxy.js';
import { caOption, pemCertificates, secureContextOption } from '../../src/net/trust.js';

/**
 * The TLS and proxy options of the EC2 client's connections, from the
 * environment as the reference's Go SDK reads it:
 * - `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` (and lower-case forms) by Go's
 *   rules (src/net/proxy.ts), decided per request. A loopback `Endpoint`
 *   (tests, a local EC2-compatible API) is never proxied.
 * - `AWS_CA_BUNDLE`: a PEM file of certificates to trust (a TLS-inspecting
 *   proxy's CA, say). The JS SDK does not read it. The Go SDK trusts the file
 *   alone; we add its certificates to Node's roots, as src/net/trust.ts adds
 *   the site's CA file, so nothing the reference trusts is refused. A file
 *   that cannot be read or holds no certificate fails the start, as it fails
 *   the reference's.
 * Both agents keep the SDK's own defaults (keep-alive, 50 sockets per host).
 */
export function ec2Agents(env: ProxyEnv = process.env): { httpAgent: EnvProxyAgent; httpsAgent: EnvProxyAgent } {
  const opts = { env, keepAlive: true, maxSockets: 50, ...awsCaBundle(env) };
  return { httpAgent: new EnvProxyAgent('http:', opts), httpsAgent: new EnvProxyAgent('https:', opts) };
}

function awsCaBundle(env: ProxyEnv): ReturnType<typeof secureContextOption> {
  const file = env.AWS_CA_BUNDLE;
  // Without it, the Go SDK trusts the system's roots: the site CA file, as every client of ours (src/net/trust.ts).
  if (file === undefined || file === '') return secureContextOption();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`AWS_CA_BUNDLE ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const certs = pemCertificates(text);
  if (certs.length === 0) throw new Error(`AWS_CA_BUNDLE ${file}: holds no certificate that can be read`);
  return secureContextOption([...(caOption().ca ?? rootCertificates), ...certs.map((c) => c.toString())]);
}
