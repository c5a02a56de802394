/**
 * The management API's parameters as Go's `r.FormValue` reads them (the
 * reference's handlers call it): from the query string and a form body, in
 * Go's order, with the body bounded.
 */
import type { IncomingMessage } from 'node:http';

/** Bigger form bodies are refused: the API's parameters are a few ids and a reason. */
const MAX_BODY_BYTES = 1 << 20;

/**
 * `r.FormValue` for this request: a name's value from the form body or the
 * query string, in Go's order (`readForm`), '' when absent. Undefined when
 * the body is too large.
 */
export async function formValues(req: IncomingMessage, url: URL): Promise<((name: string) => string) | undefined> {
  const form = await readForm(req);
  if (form === undefined) return undefined;
  const fromQuery = (name: string): string | null => url.searchParams.get(name);
  const fromBody = (name: string): string | null => form.values.get(name);
  return form.afterQuery
    ? (name: string): string => fromQuery(name) ?? fromBody(name) ?? ''
    : (name: string): string => fromBody(name) ?? fromQuery(name) ?? '';
}

/**
 * The request's form body, as Go's `r.FormValue` reads it: a urlencoded
 * POST body (ParseForm), whose values come before the query string's; or a
 * multipart/form-data body of any method (ParseMultipartForm, as
 * `curl -F instance_id=...` sends), whose fields come after the query
 * string's, files left out. Anything else, or a body that does not parse,
 * is an empty form. Undefined when the body is too large.
 */
async function readForm(req: IncomingMessage): Promise<{ values: URLSearchParams; afterQuery: boolean } | undefined> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const urlencoded = req.method === 'POST' && type === 'application/x-www-form-urlencoded';
  const multipart = type === 'multipart/form-data';
  if (!urlencoded && !multipart) {
    req.resume();
    return { values: new URLSearchParams(), afterQuery: false };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buf);
  }
  const body = Buffer.concat(chunks);
  if (urlencoded) return { values: new URLSearchParams(body.toString('utf8')), afterQuery: false };
  const values = new URLSearchParams();
  try {
    const parsed = await new Response(body, { headers: { 'Content-Type': String(req.headers['content-type']) } }).formData();
    for (const [name, value] of parsed) if (typeof value === 'string') values.append(name, value);
  } catch {
    // Go ignores the parse error there too: only the query string counts.
  }
  return { values, afterQuery: true };
}
