/**
 * The token the event feed connects with. arvados-ws v0 takes a token only
 * as the `api_token` query parameter, so whatever token the feed uses is in
 * the URL that arvados-ws's request log and its proxy's access log record.
 * The SystemRootToken there would hand the whole cluster to anyone who
 * reads those logs. So by default the feed uses a token of its own, made
 * with the SystemRootToken at the controller: it may only read containers
 * (scope `GET /arvados/v1/containers/`, which is all arvados-ws's
 * permission check asks of it: a `GET` of each event's object) and it
 * expires after two hours.
 *
 * | situation                                   | the feed connects with                                  |
 * | ------------------------------------------- | ------------------------------------------------------- |
 * | no token yet, or half its life gone         | a new one (the one before is deleted)                   |
 * | the controller refuses to make one (4xx, or 500/501: a fault in it, not load) | the SystemRootToken, with a warning; asks again in 1 h |
 * | the controller cannot answer now (502-504, 408, 429, no answer) | nothing: the attempt fails, and the feed backs off |
 * | it grants the token under two minutes (its clock hours ahead of ours) | the SystemRootToken, with a warning; asks again in 1 h |
 * | `EventFeed.ScopedToken: false`              | the SystemRootToken                                     |
 *
 * Each credential says when the feed should reconnect to pick up the next
 * one (`renewAt`): a token that expired would be refused by arvados-ws's
 * permission check on every event, silently, so the feed renews it while
 * it is still good, and a feed that fell back to the root token tries
 * again for a scoped one an hour later. At `revoke()` (the dispatcher
 * stopping) the current token is deleted; one left behind by a crash
 * expires on its own.
 */
import type { Clock } from '../clock/index.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { findControllerError, isControllerRefusal } from './errors.js';

/** Which token the feed connects with now: none yet, its own, or the SystemRootToken. */
export type FeedTokenKind = 'none' | 'own' | 'root';

/** What a feed attempt connects with, and when to come back for another. */
export interface FeedCredential {
  token: string;
  /** Clock ms at which the feed should reconnect to get a fresh credential; absent: never. */
  renewAt?: number;
}

/** A token the controller issued. */
export interface IssuedToken {
  uuid: string;
  /** The `v2/<uuid>/<secret>` form. */
  token: string;
  /** Clock ms. */
  expiresAt: number;
}

/** The controller calls this needs (`ControllerClient` has them). */
export interface TokenIssuer {
  createToken(scopes: string[], expiresAt: number): Promise<IssuedToken>;
  deleteToken(uuid: string): Promise<void>;
  /** Whether the controller still accepts the token (false: 401/403); throws when it cannot tell. */
  tokenAccepted(token: string): Promise<boolean>;
}

/** What arvados-ws's permission check does with the feed's token: read each event's container. */
export const FEED_TOKEN_SCOPES: readonly string[] = ['GET /arvados/v1/containers/'];

/**
 * Default lifetime of a feed token; it is replaced halfway through, so the
 * feed reconnects hourly. Short, because one left behind by a crash cannot
 * be deleted: a daemon that crashes and is restarted every few seconds (the
 * unit never gives up) makes one per start, and the API server's trash
 * sweep deletes them once expired; and a token read from a log is good for
 * at most two hours.
 */
export const FEED_TOKEN_LIFETIME_MS = 2 * 3_600_000;

/** After a refusal, how long the root token is used before asking again. */
export const REFUSAL_RETRY_MS = 3_600_000;

/**
 * A token granted less life than this is not used: the controller caps
 * lifetimes absurdly short, or its clock is hours ahead of ours (it would
 * count the token expired before we renew it, and the feed would go
 * silently deaf). The feed then uses the root token, as after a refusal.
 */
const MIN_LIFE_MS = 2 * 60_000;

/** How long `revoke()` waits for the controller before leaving the token to expire. */
const REVOKE_WAIT_MS = 5_000;

export interface FeedTokensOptions {
  issuer: TokenIssuer;
  rootToken: string;
  clock: Clock;
  logger: Logger;
  /** Default `FEED_TOKEN_LIFETIME_MS`. */
  lifetimeMs?: number;
}

export class FeedTokens {
  private current?: IssuedToken & { renewAt: number };
  private refusedUntil = 0;
  private readonly lifetimeMs: number;
  private readonly warnings: RateLimitedLog;
  private made = 0;
  /** `revoke()` was called: no token is kept from now on. */
  private closed = false;
  private handed: FeedTokenKind = 'none';

  constructor(private readonly opts: FeedTokensOptions) {
    this.lifetimeMs = opts.lifetimeMs ?? FEED_TOKEN_LIFETIME_MS;
    this.warnings = new RateLimitedLog(opts.logger, opts.clock);
  }

  /** The credential for the next connection attempt. Throws when the controller could not answer: the attempt fails. */
  async get(): Promise<FeedCredential> {
    const now = this.opts.clock.now();
    if (this.current && now < this.current.renewAt) return this.hand('own', { token: this.current.token, renewAt: this.current.renewAt });
    if (now < this.refusedUntil) return this.hand('root', { token: this.opts.rootToken, renewAt: this.refusedUntil });
    let issued: IssuedToken;
    try {
      issued = await this.opts.issuer.createToken([...FEED_TOKEN_SCOPES], now + this.lifetimeMs);
    } catch (err) {
      if (!refused(err)) throw new Error("making the event feed's token", { cause: err });
      this.refusedUntil = this.opts.clock.now() + REFUSAL_RETRY_MS;
      this.dropCurrent();
      this.warnings.warn(
        "the controller refused to make the event feed a token of its own, scoped to reading containers: the feed uses the SystemRootToken, which arvados-ws and its proxy write to their request logs (docs/operators.md, 'The event feed'); asking again in an hour",
        { error: err },
        'refused',
      );
      return this.hand('root', { token: this.opts.rootToken, renewAt: this.refusedUntil });
    }
    if (this.closed) {
      // The feed stopped while this was being made: nobody will use it.
      await this.delete(issued.uuid);
      throw new Error('the event feed stopped while its token was being made');
    }
    const made = this.opts.clock.now();
    if (issued.expiresAt - made < MIN_LIFE_MS) {
      void this.delete(issued.uuid);
      this.refusedUntil = made + REFUSAL_RETRY_MS;
      this.dropCurrent();
      this.warnings.warn(
        `the controller made the event feed a token that expires ${Math.round((issued.expiresAt - made) / 1000)} s from now by this host's clock (asked: ${Math.round(this.lifetimeMs / 60_000)} min): the controller's clock may be ahead of this host's, or it caps token lifetimes; the feed uses the SystemRootToken, which arvados-ws and its proxy write to their request logs; asking again in an hour`,
        { TokenUUID: issued.uuid },
        'short',
      );
      return this.hand('root', { token: this.opts.rootToken, renewAt: this.refusedUntil });
    }
    const renewAt = made + (issued.expiresAt - made) / 2;
    const old = this.current;
    this.current = { ...issued, renewAt };
    this.made++;
    const fields = { TokenUUID: issued.uuid, ExpiresAt: new Date(issued.expiresAt).toISOString() };
    if (this.made === 1) this.opts.logger.info('event feed uses a token of its own, scoped to reading containers', fields);
    else this.opts.logger.debug('event feed token renewed', fields);
    if (old) void this.delete(old.uuid);
    return this.hand('own', { token: issued.token, renewAt });
  }

  /** The kind of the token last handed to the feed (for the metrics and the status page). */
  kind(): FeedTokenKind {
    return this.handed;
  }

  /** Deletes the token due for renewal that the root token replaces. */
  private dropCurrent(): void {
    if (this.current) void this.delete(this.current.uuid);
    this.current = undefined;
  }

  private hand(kind: FeedTokenKind, credential: FeedCredential): FeedCredential {
    this.handed = kind;
    return credential;
  }

  /**
   * Whether the token last handed out still works: asked of the controller
   * when the feed has brought nothing for a while, since arvados-ws says
   * nothing when it refuses a token (one deleted by an admin, or lost
   * with a database restored from a backup): it just sends no events.
   * False, with a warning, when the controller no longer accepts it; the
   * next `get()` then makes a new one. True when there is nothing to check
   * (the root token) or no telling now.
   */
  async stillValid(): Promise<boolean> {
    const current = this.current;
    if (!current || this.handed !== 'own') return true;
    let accepted: boolean;
    try {
      accepted = await this.opts.issuer.tokenAccepted(current.token);
    } catch {
      return true;
    }
    if (accepted) return true;
    if (this.current === current) this.current = undefined;
    this.warnings.warn('the controller no longer accepts the event feed\'s token (deleted, or the database restored from a backup): making a new one', { TokenUUID: current.uuid }, 'gone');
    return false;
  }

  /** Deletes the current token (the feed has stopped); waits at most a few seconds. */
  async revoke(): Promise<void> {
    this.closed = true;
    const old = this.current;
    this.current = undefined;
    if (!old) return;
    const waited = new AbortController();
    await Promise.race([this.delete(old.uuid), this.opts.clock.sleep(REVOKE_WAIT_MS, waited.signal).catch(() => undefined)]);
    waited.abort();
  }

  private async delete(uuid: string): Promise<void> {
    try {
      await this.opts.issuer.deleteToken(uuid);
    } catch (err) {
      // It expires on its own; nothing is lost but a row until then.
      this.opts.logger.debug('could not delete an event feed token; it expires on its own', { TokenUUID: uuid, error: err });
    }
  }
}

/**
 * The controller will not make the token, as opposed to cannot now: a 4xx
 * refusal, or a 500 or 501, which a controller answers for a fault of its
 * own (an endpoint it does not implement, a bug) rather than for load. Under
 * those the feed would otherwise never connect; with the root token it works
 * as it did before it had a token of its own.
 */
function refused(err: unknown): boolean {
  if (isControllerRefusal(err)) return true;
  const status = findControllerError(err)?.status;
  return status === 500 || status === 501;
}
