/**
 * The redirects the reference's router (httprouter, with its defaults
 * RedirectTrailingSlash and RedirectFixedPath) answers a path that matched
 * no route of the request's method with: to the same path with its final
 * slash added or removed when that is a route, else to the route that equals
 * the cleaned path regardless of case (and of a final slash). A GET is moved
 * permanently (301), any other method temporarily (307, which keeps the
 * method and body). The root path and CONNECT are never redirected.
 * Unlike there, a request with a query string is not redirected but not
 * found: the reference's Location header repeats the query, which may hold
 * a token (`api_token`, or one pasted into another parameter), and headers
 * end up in logs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The path with `.` and `..` segments and repeated slashes resolved, rooted,
 * keeping a final slash (httprouter's CleanPath).
 */
function cleanPath(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const cleaned = `/${out.join('/')}`;
  return cleaned !== '/' && p.endsWith('/') ? `${cleaned}/` : cleaned;
}

/**
 * Where a request for `path` with `method` goes instead, among `routes`
 * (the paths that have a handler for that method), or undefined.
 */
function redirectTarget(method: string, path: string, routes: readonly string[]): string | undefined {
  if (method === 'CONNECT' || path === '/' || routes.length === 0) return undefined;
  const toggled = path.endsWith('/') ? path.slice(0, -1) : `${path}/`;
  if (routes.includes(toggled)) return toggled;
  const fold = (s: string): string => s.toLowerCase();
  const wanted = fold(cleanPath(path));
  const wantedToggled = wanted.endsWith('/') ? wanted.slice(0, -1) : `${wanted}/`;
  return routes.find((r) => fold(r) === wanted) ?? routes.find((r) => fold(r) === wantedToggled);
}

/** Where a request for `path` goes instead (redirectTarget), unless it has a query string. */
export function redirectFor(req: IncomingMessage, method: string, path: string, routes: readonly string[]): string | undefined {
  if ((req.url ?? '').includes('?')) return undefined;
  return redirectTarget(method, path, routes);
}

/** Answers with the redirect to `location`, as Go's http.Redirect writes it. */
export function sendRedirect(req: IncomingMessage, res: ServerResponse, location: string): void {
  res.setHeader('Location', location);
  if (req.method === 'GET') {
    res.writeHead(301, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<a href="${escapeHTML(location)}">Moved Permanently</a>.\n\n`);
    return;
  }
  res.writeHead(307);
  res.end();
}

function escapeHTML(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' })[c]!);
}
