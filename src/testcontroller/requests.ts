/**
 * The test controller's vocabulary for requests: what its fault hooks see,
 * what its request log records, and a request as its handler takes it
 * (from the HTTP server or the in-process transport).
 */

/** What the fault hooks see of a request. */
export interface RequestInfo {
  method: string;
  path: string;
}

/** What `setHook` sees: the body is parsed JSON when it parses, else the raw text, else undefined. */
export interface HookRequest extends RequestInfo {
  query: Record<string, string>;
  body: unknown;
}

export interface HookResponse {
  status: number;
  body: unknown;
}

export type RequestHook = (req: HookRequest) => HookResponse | undefined;

/** One recorded call. Token values are never recorded, only the token's uuid. */
export interface RequestLogEntry {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The status sent; 0 for a request abandoned by `stop()` while held by injected latency. */
  status: number;
  tokenUuid?: string;
  /** The route template, as in `stats` keys (e.g. `/arvados/v1/containers/{uuid}/lock`). */
  route: string;
  /** Who called: the User-Agent's product (`arvados-dispatch-cloud`, `crunch-run`, ...), as in `requestCounts`. */
  caller: string;
  /** The X-Request-Id header, when the client sent one. */
  requestId?: string;
}

/** A request as the controller handles it, from the HTTP server or the in-process transport. */
export interface IncomingRequest {
  method: string;
  url: URL;
  authorization: string | undefined;
  contentType: string;
  methodOverride: string | undefined;
  userAgent: string | undefined;
  requestId: string | undefined;
  /** The body as text; may throw an ApiError (413). */
  readBody(): Promise<string>;
}
