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
 * Every token the request offers, where the reference's
 * `LoadTokensFromHTTPRequest` looks: `Authorization: Bearer|OAuth2 T`, the
 * password of Basic auth, `api_token` in the query string, and the
 * `arvados_api_token` cookie (base64url).
 */
export function requestTokens(req: IncomingMessage, query: URLSearchParams): string[] {
  const tokens: string[] = [];
  const authz = req.headers.authorization ?? '';
  const space = authz.indexOf(' ');
  if (space > 0) {
    const scheme = authz.slice(0, space);
    const rest = authz.slice(space + 1);
    if (scheme === 'Bearer' || scheme === 'OAuth2') tokens.push(rest);
    else if (scheme === 'Basic') {
      const decoded = Buffer.from(rest, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) tokens.push(decoded.slice(colon + 1));
    }
  }
  tokens.push(...query.getAll('api_token'));
  const cookie = cookieValue(req.headers.cookie, 'arvados_api_token');
  if (cookie) {
    const decoded = Buffer.from(cookie, 'base64url').toString('utf8');
    if (decoded) tokens.push(decoded);
  }
  return tokens;
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
