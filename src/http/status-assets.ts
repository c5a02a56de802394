/**
 * The status page's static files besides the page itself: its own scripts
 * (`status/shared.js`, `api.js`, `totals.js`, `tables.js`, `detail.js`,
 * `page.js`, split by what they do), its charts' script and style
 * (`status/charts.js`, `status/charts.css`) and the charting library they
 * use, uPlot, read from its npm package (a production dependency, so it is in
 * the Debian package's node_modules too). All are served by the daemon, so
 * the page needs no CDN and its Content-Security-Policy can allow scripts
 * from 'self' only, with no inline script at all.
 *
 * Each is read once when this module loads (a missing one fails the start,
 * as a missing page would) and answered with an ETag, so a browser that
 * reloads the page revalidates them instead of downloading uPlot again.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const resolve = createRequire(import.meta.url).resolve;

function asset(file: string | URL, type: string): Asset {
  const body = readFileSync(file);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** The files by the path they are served at, relative to the page (`/`). */
export const STATUS_ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['/status/shared.js', asset(new URL('./status/shared.js', import.meta.url), JS)],
  ['/status/api.js', asset(new URL('./status/api.js', import.meta.url), JS)],
  ['/status/totals.js', asset(new URL('./status/totals.js', import.meta.url), JS)],
  ['/status/tables.js', asset(new URL('./status/tables.js', import.meta.url), JS)],
  ['/status/detail.js', asset(new URL('./status/detail.js', import.meta.url), JS)],
  ['/status/page.js', asset(new URL('./status/page.js', import.meta.url), JS)],
  ['/status/charts.js', asset(new URL('./status/charts.js', import.meta.url), JS)],
  ['/status/charts.css', asset(new URL('./status/charts.css', import.meta.url), CSS)],
  ['/status/uPlot.iife.min.js', asset(resolve('uplot/dist/uPlot.iife.min.js'), JS)],
  ['/status/uPlot.min.css', asset(resolve('uplot/dist/uPlot.min.css'), CSS)],
]);

/** The asset a request's URL names (its query string ignored), if any. */
export function statusAssetOf(url: string | undefined): Asset | undefined {
  return STATUS_ASSETS.get((url ?? '').split('?')[0]!);
}

/** Answers GET or HEAD for one asset: 200 with it, or 304 when the browser's copy is current. */
export function serveStatusAsset(a: Asset, req: IncomingMessage, res: ServerResponse): void {
  const headers = { 'Content-Type': a.type, 'Cache-Control': 'no-cache', ETag: a.etag, 'X-Content-Type-Options': 'nosniff' };
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': String(a.body.length) });
  res.end(req.method === 'HEAD' ? undefined : a.body);
}
