/**
 * A guard for the SDK's paginators, which follow NextToken for as long as
 * the answers carry one: an answer that repeats an earlier token (a broken
 * proxy, a cache) would have them ask for the same pages forever.
 */
export class PageTokens {
  private readonly seen = new Set<string>();

  constructor(private readonly what: string) {}

  /** Throws when `token` was seen before in this listing. */
  check(token: string | undefined): void {
    if (token === undefined || token === '') return;
    if (this.seen.has(token)) throw new Error(`${this.what}: the answer repeats an earlier page token`);
    this.seen.add(token);
  }
}
