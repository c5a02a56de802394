/**
 * Who may use the management API: the reference's RequireLiteralToken over
 * its token sources, and the health handler's own stricter check. Tokens
 * are compared in constant time (over SHA-256 digests, so that lengths do
 * not leak either), and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Constant-time equality of two secrets of any length. */
export function tokensEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/**
 * Every token the request offers, where and as the reference's
 * `LoadTokensFromHTTPRequest` finds them, each with surrounding white space
 * trimmed: `Authorization: Bearer|OAuth2 T`; the password of Basic auth
 * (scheme in any case, strict base64 with a colon, else no token); every
 * `api_token` in the query string; the `arvados_api_token` cookie (padded
 * base64url; one that does not decode offers no token).
 */
export function requestTokens(req: IncomingMessage, query: URLSearchParams): string[] {
  const tokens: string[] = [];
  const authz = req.headers.authorization ?? '';
  const space = authz.indexOf(' ');
  if (space > 0) {
    const scheme = authz.slice(0, space);
    const rest = authz.slice(space + 1);
    if (scheme === 'Bearer' || scheme === 'OAuth2') tokens.push(rest.trim());
    else if (scheme.toLowerCase() === 'basic') {
      const decoded = strictBase64(rest, STD_ALPHABET)?.toString('utf8');
      const colon = decoded?.indexOf(':') ?? -1;
      if (decoded !== undefined && colon >= 0) tokens.push(decoded.slice(colon + 1).trim());
    }
  }
  for (const t of query.getAll('api_token')) tokens.push(t.trim());
  const cookie = cookieValue(req.headers.cookie, 'arvados_api_token');
  if (cookie) {
    const decoded = strictBase64(cookie, URL_ALPHABET);
    if (decoded) tokens.push(decoded.toString('utf8').trim());
  }
  return tokens;
}

const STD_ALPHABET = /^[A-Za-z0-9+/]*$/;
const URL_ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes padded base64 as Go's base64 decoders do (line breaks ignored,
 * padding required, nothing outside the alphabet); undefined when it is not
 * that. Node's own decoder takes anything, so garbage would count as a token.
 */
export function strictBase64(text: string, alphabet: RegExp): Buffer | undefined {
  const clean = text.replace(/[\r\n]/g, '');
  const body = clean.replace(/={1,2}$/, '');
  const padding = clean.length - body.length;
  if (!alphabet.test(body)) return undefined;
  const tail = body.length % 4;
  if (!((tail === 0 && padding === 0) || (tail === 2 && padding === 2) || (tail === 3 && padding === 1))) return undefined;
  return Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** What the token check decided: pass, or refuse with this status. */
export type AuthDecision = { ok: true } | { ok: false; status: 401 | 403; message: string };

/** The reference's RequireLiteralToken: no token offered -> 401; none matching -> 403. */
export function requireToken(want: string, offered: readonly string[]): AuthDecision {
  if (offered.length === 0) return { ok: false, status: 401, message: 'Unauthorized' };
  // Check them all, so the time taken does not say which one matched.
  let match = false;
  for (const t of offered) match = tokensEqual(t, want) || match;
  return match ? { ok: true } : { ok: false, status: 403, message: 'Forbidden' };
}

/** The reference's health handler: only `Authorization: Bearer <token>` counts there. */
export function requireHealthToken(want: string, authorization: string | undefined): AuthDecision {
  if (!authorization) return { ok: false, status: 401, message: 'authorization required' };
  if (!tokensEqual(authorization, `Bearer ${want}`)) return { ok: false, status: 403, message: 'authorization error' };
  return { ok: true };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
