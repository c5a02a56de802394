/**
 * The controller's token calls the event feed's own token needs
 * (`feed-token.ts`): make one, delete one, and ask whether one still works.
 * Sent through the controller client (its retries, window and errors), not
 * fenced: a token collides with nothing another dispatcher does.
 */
import type { Clock } from '../clock/index.js';
import type { ControllerClient } from './client.js';
import { TOKEN_UUID } from './client-wire.js';
import { ControllerError } from './errors.js';
import type { IssuedToken, TokenIssuer } from './feed-token.js';

const TOKENS = '/arvados/v1/api_client_authorizations';

export class ControllerTokens implements TokenIssuer {
  constructor(
    private readonly client: Pick<ControllerClient, 'request'>,
    private readonly clock: Clock,
  ) {}

  /**
   * `POST /arvados/v1/api_client_authorizations`: a new token owned by our
   * token's user, limited to `scopes`, expiring at `expiresAt` (epoch ms) or
   * sooner if the controller caps it. Not sent again after an attempt that
   * got no answer: a token made by a lost attempt expires on its own.
   */
  async createToken(scopes: string[], expiresAt: number): Promise<IssuedToken> {
    const body = { api_client_authorization: { scopes, expires_at: new Date(expiresAt).toISOString() } };
    const value = await this.client.request('POST', TOKENS, { body, retry: false });
    return issuedToken(value, expiresAt, this.clock.now());
  }

  /** `DELETE /arvados/v1/api_client_authorizations/{uuid}`; a token already gone (404) is no error. */
  async deleteToken(uuid: string): Promise<void> {
    try {
      await this.client.request('DELETE', `${TOKENS}/${encodeURIComponent(uuid)}`, { retry: true });
    } catch (err) {
      if (!(err instanceof ControllerError && err.status === 404)) throw err;
    }
  }

  /**
   * Whether the controller still accepts `token`: `GET
   * .../api_client_authorizations/current` with it, which any token may
   * ask. True on an answer, false on 401 or 403; a throw when there was no
   * telling (no answer, another status).
   */
  async tokenAccepted(token: string): Promise<boolean> {
    try {
      await this.client.request('GET', `${TOKENS}/current`, { retry: true, token });
      return true;
    } catch (err) {
      if (err instanceof ControllerError && (err.status === 401 || err.status === 403)) return false;
      throw err;
    }
  }
}

/**
 * The token a create answered with: its uuid, the `v2/<uuid>/<secret>` form
 * (the API server answers with the secret alone), and when it expires by
 * our clock (`now`, when the answer came). The expiry is the time asked
 * for, or sooner: the controller may cap a token's life, and its clock may
 * be ahead of ours. So when the answer has both `created_at` and
 * `expires_at` (both by the controller's clock) the life it granted is
 * their difference, counted from `now`; with `expires_at` alone, that time
 * as it stands.
 */
export function issuedToken(value: unknown, asked: number, now: number): IssuedToken {
  const v = (value ?? {}) as { uuid?: unknown; api_token?: unknown; expires_at?: unknown; created_at?: unknown };
  const where = 'POST /arvados/v1/api_client_authorizations';
  if (typeof v.uuid !== 'string' || !TOKEN_UUID.test(v.uuid)) throw new Error(`${where}: the answer has no well-formed uuid`);
  if (typeof v.api_token !== 'string' || !/^[\x21-\x7e]+$/.test(v.api_token)) throw new Error(`${where}: the answer has no usable api_token`);
  const token = v.api_token.startsWith('v2/') ? v.api_token : `v2/${v.uuid}/${v.api_token}`;
  const expires = typeof v.expires_at === 'string' ? Date.parse(v.expires_at) : NaN;
  const created = typeof v.created_at === 'string' ? Date.parse(v.created_at) : NaN;
  let expiresAt = asked;
  if (Number.isFinite(expires) && Number.isFinite(created)) expiresAt = Math.min(asked, now + (expires - created));
  else if (Number.isFinite(expires)) expiresAt = Math.min(asked, expires);
  return { uuid: v.uuid, token, expiresAt };
}
