/**
 * Outbound HTTP proxies, chosen from the environment by the rules of Go's
 * `http.ProxyFromEnvironment` (package golang.org/x/net/http/httpproxy),
 * which every HTTP client of the reference follows: the AWS SDK's and the
 * Arvados controller client's. Node applies none of these variables to
 * node:http(s), so without this module a site that reaches AWS only through
 * an egress proxy works with the reference and not with us.
 *
 * The rules (httpproxy's Config and ProxyFunc documentation):
 * - `HTTPS_PROXY` (else `https_proxy`) for https URLs, `HTTP_PROXY` (else
 *   `http_proxy`) for http ones; of two forms, the first that is set and not
 *   empty wins. A value without a scheme (`proxy:3128`) means `http://`.
 * - `NO_PROXY` (else `no_proxy`): a comma-separated list. `*` alone turns
 *   proxying off; an IP address or a CIDR block matches those addresses; a
 *   domain name matches itself and its subdomains, one with a leading `.`
 *   (or `*.`) only its subdomains; an IP or a name may end with `:port`,
 *   which then must match too (the URL's port, else 80 or 443).
 * - A request to `localhost` or to a loopback address is never proxied.
 * - A proxy value that cannot be read is ignored (no proxy), as Go ignores it.
 *
 * Left out: Go refuses `HTTP_PROXY` when `REQUEST_METHOD` is set (a CGI
 * handler, whose client could set it); a daemon is never one. Go also takes
 * `socks5://` proxies; the agents below do not, and such a request fails
 * with an error that says so rather than going out unproxied.
 */
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';

/** Where the variables are read from: `process.env`, or a test's own. */
export type ProxyEnv = Readonly<Record<string, string | undefined>>;

/** The proxy for a request to `target` (its scheme, host and port count), or undefined to go direct. */
export type ProxyFunc = (target: URL | string) => URL | undefined;

/** The first of `names` set to something not empty, as Go's getEnvAny. */
function envAny(env: ProxyEnv, ...names: string[]): string {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
  }
  return '';
}

const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks5:']);

/** A proxy variable's URL: as written if it has a proxy scheme, else with `http://` in front; undefined if neither reads. */
export function parseProxyValue(value: string): URL | undefined {
  if (value === '') return undefined;
  try {
    const url = new URL(value);
    if (PROXY_SCHEMES.has(url.protocol)) return url;
  } catch {
    // Not a URL as written ("10.0.0.1:3128"): try it as host[:port].
  }
  try {
    return new URL(`http://${value}`);
  } catch {
    return undefined;
  }
}

/** An address that is never proxied: Go's `net.IP.IsLoopback` (IPv4-mapped forms included). */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const family = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

interface Rule {
  /** `host` is lower-case ASCII; `ip` is set when the host is an IP address. */
  match(host: string, port: string, ip: string | undefined): boolean;
}

/** An IP address or CIDR block of NO_PROXY, with its port if one was given. */
function ipRule(list: BlockList, rulePort: string): Rule {
  return { match: (_host, port, ip) => ip !== undefined && list.check(ip, family(ip)) && (rulePort === '' || rulePort === port) };
}

/** A name of NO_PROXY: `suffix` starts with '.'; `alsoItself` unless the entry itself started with '.'. */
function domainRule(suffix: string, alsoItself: boolean, rulePort: string): Rule {
  return {
    match: (host, port) => (host.endsWith(suffix) || (alsoItself && host === suffix.slice(1))) && (rulePort === '' || rulePort === port),
  };
}

/** `host:port`, `[v6]:port`, or the whole entry as the host when it does not have that shape (a bare IPv6 address). */
function splitHostPort(entry: string): { host: string; port: string } {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(entry);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] ?? '' };
  const colon = entry.indexOf(':');
  if (colon >= 0 && colon === entry.lastIndexOf(':')) return { host: entry.slice(0, colon), port: entry.slice(colon + 1) };
  return { host: entry, port: '' };
}

/** A CIDR block (`10.0.0.0/8`, `fd00::/8`) as a BlockList, or undefined if `entry` is not one. */
function cidr(entry: string): BlockList | undefined {
  const slash = entry.indexOf('/');
  if (slash < 0) return undefined;
  const addr = entry.slice(0, slash);
  const bits = entry.slice(slash + 1);
  if (isIP(addr) === 0 || !/^\d{1,3}$/.test(bits)) return undefined;
  const list = new BlockList();
  try {
    list.addSubnet(addr, Number(bits), family(addr));
  } catch {
    return undefined; // a prefix too long for the family
  }
  return list;
}

/** NO_PROXY's entries as rules; `'all'` when one of them is `*`. Entries that read as nothing are skipped. */
function parseNoProxy(value: string): Rule[] | 'all' {
  const rules: Rule[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return 'all';
    const block = cidr(entry);
    if (block) {
      rules.push(ipRule(block, ''));
      continue;
    }
    const { host, port } = splitHostPort(entry);
    if (host === '') continue;
    if (isIP(host) !== 0) {
      const list = new BlockList();
      list.addAddress(host, family(host));
      rules.push(ipRule(list, port));
      continue;
    }
    const name = host.startsWith('*.') ? host.slice(1) : host;
    const alsoItself = !name.startsWith('.');
    const suffix = alsoItself ? `.${name}` : name;
    rules.push(domainRule(domainToASCII(suffix) || suffix, alsoItself, port));
  }
  return rules;
}

/** The three variables of an environment, each from its first form that is set (upper case first). */
function proxyVariables(env: ProxyEnv): { httpsProxy: URL | undefined; httpProxy: URL | undefined; noProxyText: string } {
  return {
    httpsProxy: parseProxyValue(envAny(env, 'HTTPS_PROXY', 'https_proxy')),
    httpProxy: parseProxyValue(envAny(env, 'HTTP_PROXY', 'http_proxy')),
    noProxyText: envAny(env, 'NO_PROXY', 'no_proxy'),
  };
}

/**
 * The proxy function of an environment, read once (as Go reads it once per
 * process): give it each request's URL.
 */
export function proxyFunc(env: ProxyEnv = process.env): ProxyFunc {
  const { httpsProxy, httpProxy, noProxyText } = proxyVariables(env);
  const noProxy = parseNoProxy(noProxyText);
  return (target) => {
    const url = typeof target === 'string' ? new URL(target) : target;
    const proxy = url.protocol === 'https:' ? httpsProxy : url.protocol === 'http:' ? httpProxy : undefined;
    if (proxy === undefined || noProxy === 'all') return undefined;
    // URL gives the host lower-case and in punycode, an IPv6 address in brackets.
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === 'localhost') return undefined;
    const ip = isIP(host) !== 0 ? host : undefined;
    if (ip !== undefined && LOOPBACK.check(ip, family(ip))) return undefined;
    const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    if (noProxy.some((rule) => rule.match(host, port, ip))) return undefined;
    return proxy;
  };
}

/** `proxyFunc(env)(target)`, for one question. */
export function proxyFor(target: URL | string, env: ProxyEnv = process.env): URL | undefined {
  return proxyFunc(env)(target);
}

/** A proxy URL fit for a log line: scheme, host and port, never the credentials it may carry. */
export function describeProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/** The proxy settings of an environment, for a start-up log line (credentials left out); undefined when no proxy is set. */
export function proxySettings(env: ProxyEnv = process.env): Record<string, string> | undefined {
  const { httpsProxy, httpProxy, noProxyText } = proxyVariables(env);
  if (!httpsProxy && !httpProxy) return undefined;
  return {
    HTTPSProxy: httpsProxy ? describeProxy(httpsProxy) : '',
    HTTPProxy: httpProxy ? describeProxy(httpProxy) : '',
    NoProxy: noProxyText,
  };
}

export interface EnvProxyAgentOptions extends https.AgentOptions {
  /** Where the proxy variables are read from. Default `process.env`. */
  env?: ProxyEnv;
}

/** What Node's ClientRequest calls on its agent; not in @types/node, but the entry point every proxy agent overrides. */
interface RequestTaker {
  addRequest(req: http.ClientRequest, options: http.RequestOptions): void;
}

/**
 * An agent for one scheme that sends each request direct or through the
 * proxy `proxyFunc` names for its host and port, as Go's transport decides
 * per request. It holds no socket itself: each request goes to a pooled
 * agent of its own kind (one direct, one per proxy), given the same options
 * (keep-alive, maxSockets, `ca`, ...). Through a proxy, https requests are
 * tunnelled with CONNECT (https-proxy-agent) and http ones are sent to the
 * proxy whole (http-proxy-agent), as Go's transport does.
 */
export class EnvProxyAgent extends http.Agent {
  private readonly choose: ProxyFunc;
  private readonly agentOptions: https.AgentOptions;
  private direct: http.Agent | undefined;
  private readonly viaProxy = new Map<string, http.Agent>();

  constructor(
    readonly scheme: 'http:' | 'https:',
    opts: EnvProxyAgentOptions = {},
  ) {
    const { env, ...agentOptions } = opts;
    super(agentOptions);
    // Node's request checks its agent's protocol against the module's, and takes the default port from it.
    Object.assign(this, { protocol: scheme, defaultPort: scheme === 'https:' ? 443 : 80 });
    this.choose = proxyFunc(env ?? process.env);
    this.agentOptions = agentOptions;
  }

  /** The proxy a request to `host`:`port` goes through, or undefined: direct. */
  proxyFor(host: string, port: number | string): URL | undefined {
    const bracketed = isIP(host) === 6 ? `[${host}]` : host;
    return this.choose(`${this.scheme}//${bracketed}:${port}`);
  }

  addRequest(req: http.ClientRequest, options: http.RequestOptions): void {
    let target: http.Agent;
    try {
      target = this.agentFor(this.proxyFor(options.host ?? options.hostname ?? 'localhost', options.port ?? this.defaultPortNumber));
    } catch (err) {
      // How Node's own agent fails a request it cannot connect: the request emits 'error' then 'close'.
      (req as unknown as { onSocket(socket: undefined, err: Error): void }).onSocket(undefined, err as Error);
      return;
    }
    // The proxy agents read the TLS options of the server's connection (`ca`,
    // ...) from the request, not from their own options, so they are merged
    // in here, over the request's as Node's own agent merges its options.
    (target as unknown as RequestTaker).addRequest(req, { ...options, ...this.agentOptions });
  }

  override destroy(): void {
    this.direct?.destroy();
    for (const agent of this.viaProxy.values()) agent.destroy();
    this.viaProxy.clear();
    this.direct = undefined;
    super.destroy();
  }

  private get defaultPortNumber(): number {
    return this.scheme === 'https:' ? 443 : 80;
  }

  private agentFor(proxy: URL | undefined): http.Agent {
    if (proxy === undefined) {
      this.direct ??= this.scheme === 'https:' ? new https.Agent(this.agentOptions) : new http.Agent(this.agentOptions);
      return this.direct;
    }
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
      throw new Error(`proxy ${describeProxy(proxy)}: only http:// and https:// proxies are supported`);
    }
    let agent = this.viaProxy.get(proxy.href);
    if (!agent) {
      // The options reach both the connection to the proxy (an https:// proxy's certificate) and the one to the server.
      const opts = this.agentOptions as ConstructorParameters<typeof HttpsProxyAgent<string>>[1];
      agent = this.scheme === 'https:' ? new HttpsProxyAgent(proxy, opts) : new HttpProxyAgent(proxy, opts as ConstructorParameters<typeof HttpProxyAgent<string>>[1]);
      // HttpsProxyAgent replaces the `options` Node's agent keeps with its
      // own, which drops `timeout`; Node's pool reads it there when it parks
      // an idle socket (keepSocketAlive), so without this an idle tunnel
      // would never be closed. (maxFreeSockets and the rest are read at
      // construction and survive.)
      const kept = (agent as unknown as { options: { timeout?: number } }).options;
      if (this.agentOptions.timeout !== undefined && kept.timeout === undefined) kept.timeout = this.agentOptions.timeout;
      this.viaProxy.set(proxy.href, agent);
    }
    return agent;
  }
}
