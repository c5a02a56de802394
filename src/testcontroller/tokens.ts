/**
 * The test controller's tokens, with Arvados's rules for what a token may
 * do: the root token and the extra ones given at construction are admins'
 * with scope `all` that never expire; a token made through
 * `POST /arvados/v1/api_client_authorizations` has the scopes and expiry it
 * was made with. A scope is `all`, `METHOD /exact/path`, or
 * `METHOD /prefix/` (a trailing slash allows every path under it); `HEAD`
 * is allowed by a `GET` scope, and `GET .../api_client_authorizations/current`
 * by any token (the API server's `scopes_allow_request?`). An expired or
 * deleted token is unknown.
 */
import { randomBytes } from 'node:crypto';
import { ApiError } from './http.js';

/** One token as the controller keeps it. */
export interface TokenRecord {
  uuid: string;
  secret: string;
  scopes: string[];
  /** Epoch ms; absent: never expires. */
  expiresAt?: number;
  /** Made through the API (not given at construction). */
  issued: boolean;
  /** When it was made, on the controller's clock (epoch ms); 0 for those given at construction. */
  createdAt: number;
}

const CURRENT_PATH = '/arvados/v1/api_client_authorizations/current';

export class TokenTable {
  private readonly bySecret = new Map<string, TokenRecord>();
  private readonly byUuid = new Map<string, TokenRecord>();
  private made = 0;

  constructor(
    private readonly clusterId: string,
    /** The controller's clock (`createdAt`). */
    private readonly now: () => number,
  ) {}

  /** A token with every right that never expires (the root token, a second dispatcher's). */
  addAdmin(secret: string, uuid: string): void {
    this.put({ uuid, secret, scopes: ['all'], issued: false, createdAt: 0 });
  }

  /** A new token with these scopes, expiring at `expiresAt` (epoch ms) if given. */
  create(scopes: string[], expiresAt: number | undefined): TokenRecord {
    this.made++;
    const record: TokenRecord = {
      uuid: `${this.clusterId}-gj3su-t${String(this.made).padStart(14, '0')}`,
      secret: randomBytes(24).toString('hex'),
      scopes,
      issued: true,
      createdAt: this.now(),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
    this.put(record);
    return record;
  }

  /** Forgets a token; false if there was none. */
  delete(uuid: string): boolean {
    const t = this.byUuid.get(uuid);
    if (!t) return false;
    this.byUuid.delete(uuid);
    this.bySecret.delete(t.secret);
    return true;
  }

  get(uuid: string): TokenRecord | undefined {
    return this.byUuid.get(uuid);
  }

  /** Tokens made through the API and not deleted (expired ones included). */
  issued(): TokenRecord[] {
    return [...this.byUuid.values()].filter((t) => t.issued);
  }

  /** The token a bare secret or a `v2/<uuid>/<secret>` names, if it is known and not expired at `now`. */
  find(token: string, now: number): TokenRecord | undefined {
    const v2 = /^v2\/([^/]+)\/(.+)$/.exec(token);
    const t = v2 ? this.bySecret.get(v2[2]) : this.bySecret.get(token);
    if (!t || (v2 && t.uuid !== v2[1])) return undefined;
    if (t.expiresAt !== undefined && t.expiresAt <= now) return undefined;
    return t;
  }

  /** Whether the token's scopes allow `method path`. */
  allows(t: TokenRecord, method: string, path: string): boolean {
    return allows(t.scopes, method, path);
  }

  /** Throws 403 unless the token's scopes allow `method path`. */
  checkScopes(t: TokenRecord, method: string, path: string): void {
    if (!allows(t.scopes, method, path)) throw new ApiError(403, `Forbidden: token scopes ${JSON.stringify(t.scopes)} do not allow ${method} ${path}`);
  }

  private put(t: TokenRecord): void {
    this.bySecret.set(t.secret, t);
    this.byUuid.set(t.uuid, t);
  }
}

/** Whether `scopes` allow a request (the API server's rules; see the file comment). */
export function allows(scopes: readonly string[], method: string, path: string): boolean {
  if (method === 'GET' && path === CURRENT_PATH) return true;
  const one = (m: string): boolean => {
    const req = `${m} ${path}`;
    return scopes.some((s) => s === 'all' || s === req || (s.endsWith('/') && req.startsWith(s)));
  };
  return method === 'HEAD' ? one('HEAD') || one('GET') : one(method);
}
