/**
 * URLs in the cluster config as the reference reads them: whether a value is
 * a URL this daemon can use, and the form in which it compares them.
 */

/** Why `text` is not a URL with a host and one of `schemes` (`http:`, ...), or undefined if it is one. */
export function urlProblem(text: string, schemes: string[]): string | undefined {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url && schemes.includes(url.protocol) && url.hostname !== '') return undefined;
  const names = schemes.map((s) => `${s}//`);
  return `expected ${names.length > 2 ? 'a' : 'an'} ${names.slice(0, -1).join(', ')} or ${names.at(-1)} URL, got ${JSON.stringify(text)}`;
}

/** `scheme://:port[/...]`: a listen address with a port and no host. */
const HOSTLESS = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/:([0-9]+)((?:[/?#].*)?)$/s;

/**
 * Whether `url` names a port and no host (`http://:9006`), which the
 * reference (Go's net.Listen) binds on every address of the host. WHATWG's
 * URL parser refuses it, so such a URL is read through `withHost`.
 */
export function isHostless(url: string): boolean {
  return HOSTLESS.test(url);
}

/** A listen URL parsed, a hostless one (`isHostless`) with 0.0.0.0 standing for its host; throws as `new URL` does. */
export function parseListenURL(text: string): URL {
  return new URL(withHost(text, '0.0.0.0'));
}

/** A hostless URL (`isHostless`) with `host` put in, e.g. to parse it or to connect to it; any other URL unchanged. */
export function withHost(url: string, host: string): string {
  const m = HOSTLESS.exec(url);
  return m ? `${m[1]}://${host}:${m[2]}${m[3]}` : url;
}

/** Two InternalURLs the reference takes as one URL: scheme in any case, an empty path meaning "/". */
export function sameURL(a: string, b: string): boolean {
  const norm = (u: string): string => withRootPath(u.replace(/^[A-Za-z][A-Za-z0-9+.-]*:/, (scheme) => scheme.toLowerCase()));
  return norm(a) === norm(b);
}

/**
 * The URL as the reference compares and prints it: "http://host:9006" means
 * "http://host:9006/" (its URL type gives an empty path the root path).
 */
export function withRootPath(url: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]+$/.test(url) ? `${url}/` : url;
}
