/**
 * The operator's status page, served at `GET /` by the management server.
 *
 * The page is one static HTML file (`status/index.html`: markup and inline
 * CSS, no build step, no framework) and the plain scripts it loads from
 * beside it (`status/*.js`, see `status-assets.ts`). It holds no data and
 * needs no auth to fetch: the browser calls the management API (ARVADOS.md
 * section 7) with the ManagementToken the operator types in, kept only in the
 * tab's sessionStorage. The scripts run in the browser on the browser's
 * clock, so the house rule against raw timers
 * (test/lint/no-raw-timers.test.ts), which is about daemon code, leaves
 * `status/` out.
 *
 * Container fields are user-controlled, so besides the page rendering only
 * with textContent, every response carries a Content-Security-Policy that
 * allows exactly this page's inline style (by SHA-256 hash; an inline script
 * would be allowed the same way, but the page has none), scripts and styles
 * the daemon serves beside the page ('self'), and fetches to its own origin:
 * injected markup could not run script even if a future edit slipped.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveStatusAsset, statusAssetOf } from './status-assets.js';

/** The page, read once when this module loads. */
export const STATUS_PAGE_HTML: string = readFileSync(new URL('./status/index.html', import.meta.url), 'utf8');

function inlineHashes(html: string, tag: 'script' | 'style'): string[] {
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  return [...html.matchAll(re)].map((m) => `'sha256-${createHash('sha256').update(m[1]!, 'utf8').digest('base64')}'`);
}

/** The Content-Security-Policy sent with the page. */
export const STATUS_PAGE_CSP: string = [
  "default-src 'none'",
  ['script-src', "'self'", ...inlineHashes(STATUS_PAGE_HTML, 'script')].join(' '),
  ['style-src', "'self'", ...inlineHashes(STATUS_PAGE_HTML, 'style')].join(' '),
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const BODY = Buffer.from(STATUS_PAGE_HTML, 'utf8');

const HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Length': String(BODY.length),
  'Cache-Control': 'no-store',
  'Content-Security-Policy': STATUS_PAGE_CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

/**
 * A node:http handler that serves the status page: 200 with the HTML for GET,
 * headers only for HEAD, 405 (Allow: GET, HEAD) for any other method; its
 * static files (`status-assets.ts`) at their paths, the page at any other. It
 * does not look at auth: mount it where `isStatusPagePath` says (before the
 * auth check; the page and its files hold no data) and let the API routes
 * handle the rest.
 */
export function statusPageHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    const a = statusAssetOf(req.url);
    if (a) return serveStatusAsset(a, req, res);
    res.writeHead(200, HEADERS);
    res.end(req.method === 'HEAD' ? undefined : BODY);
  };
}

/** True for the paths the status page answers: `/` (with or without a query string) and its static files. */
export function isStatusPagePath(url: string | undefined): boolean {
  return url === '/' || (url ?? '').startsWith('/?') || statusAssetOf(url) !== undefined;
}
