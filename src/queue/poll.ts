/**
 * One poll of the controller's container table, with a load that does not
 * grow with the backlog. Each poll reads:
 *
 * 1. **ours**: every container locked by our token, by uuid (`uuid > last`
 *    pages), as the reference;
 * 2. **the head**: the queued list (Queued, priority > 0) highest priority
 *    first, until 100 containers that are not supervisors have been read, as
 *    the reference (normally one page of 1000): what the scheduler acts on
 *    now, fresh on every poll;
 * 3. **a slice of the sweep**: the queued list again, in uuid order, from
 *    where the last poll's slice stopped, `sweepPages` pages; past the end it
 *    starts over. Skipped when the head read the whole list;
 * 4. **checks**: tracked containers that should have been in one of those
 *    lists and were not, by `uuid in [...]`, at most `checksPerPoll` of them
 *    (the rest wait for the next poll). A container "should have been" there
 *    when it was ours (Locked or Running by us: always read in 1), or Queued
 *    with a priority that puts it before where the head stopped, or its uuid
 *    lies in the stretch of uuids this poll's sweep slice covered. That is how
 *    a priority drop to 0, a cancellation, a lock by another dispatcher or a
 *    finished container is seen; only an empty answer to a check drops it.
 *
 * Staleness bound: with B containers in the queued list and a slice of
 * S = sweepPages x pageSize, the sweep passes every uuid once per cycle of
 * floor(B / S) + 1 polls (the last one reads the end of the list), and a
 * tracked container the slice should have returned and did not is checked
 * in the same poll. So any change to any container (priority, cancel, lock
 * by someone else, deletion) is seen within floor(B / S) + 1 polls, plus
 * one poll per `checksPerPoll` containers that left the list at once. At
 * the defaults (S = 2000) that is 51 polls for 100k queued containers,
 * about 8.5 minutes at a PollInterval of 10 s. Our own containers, the head,
 * any container whose priority rises into the head and any that drops out
 * of it are fresh on every poll; so is one the controller refused to lock or
 * unlock (checked on the next poll). A new container is found by the poll
 * that reads it in the head or in a slice, so within the same bound.
 */
import { before, checkByUuid, type CheckResult, type Listed, type ListSource, pageByUuid, QUEUED, readAllByUuid, readHead } from './lists.js';

export type { ListClient, Listed, ListSource } from './lists.js';

export interface PollOptions {
  /** Items asked for per list request (the controller caps it, at 1000 by default). */
  pageSize: number;
  /** Uuids per `uuid in [...]` request. */
  batchSize: number;
  /** Requests of the queued list in uuid order per poll (the sweep's slice). */
  sweepPages: number;
  /** At most this many requests read the head. */
  headPages: number;
  /** At most this many tracked containers checked by uuid per poll (ours always are). */
  checksPerPoll: number;
  /** At most this many requests read the list of ours; a list that goes on fails the poll. */
  maxPages: number;
}

/** What the poll needs to know of a container the queue tracks: its last known record. */
export interface TrackedContainer extends Listed {
  scheduling_parameters?: { supervisor?: boolean };
}

/** The containers the queue tracks, as last known; read synchronously during a poll. */
export interface Tracked extends Iterable<[string, TrackedContainer]> {
  get(uuid: string): TrackedContainer | undefined;
}

export interface PollResult {
  /** Every container a list or a check returned, by uuid (a later read wins over an earlier one). */
  containers: Map<string, Listed>;
  /** Ours, then the head in priority order: what the scheduler acts on now. */
  urgent: string[];
  /** Tracked containers the controller no longer has (deleted). */
  notFound: string[];
}

const FINAL = new Set(['Complete', 'Cancelled']);

/** A stretch of uuids (after, upTo]: '' = from the start; undefined = to the end. */
interface Stretch {
  after: string;
  upTo?: string;
}

function within(uuid: string, s: Stretch): boolean {
  return uuid > s.after && (s.upTo === undefined || uuid <= s.upTo);
}

/** The poll's memory between polls: where the sweep stands, and what is left to check. */
export class Poller {
  /** The next sweep slice reads uuids after this ('' = from the start). */
  private cursor = '';
  /** Tracked containers to ask about by uuid, in the order they became suspect. */
  private readonly suspects = new Set<string>();

  constructor(
    private readonly src: ListSource,
    private readonly opts: PollOptions,
  ) {}

  /** Makes the next poll ask about `uuid` by uuid (e.g. the controller refused to lock it). */
  suspect(uuid: string): void {
    this.suspects.add(uuid);
  }

  /**
   * @param tracked every container the queue tracks, by uuid, as last known.
   */
  async poll(tokenUuid: string, tracked: Tracked): Promise<PollResult> {
    const { src, opts } = this;
    const containers = new Map<string, Listed>();
    const urgent: string[] = [];
    const add = (items: Listed[], isUrgent: boolean): void => {
      for (const c of items) {
        containers.set(c.uuid, c);
        if (isUrgent) urgent.push(c.uuid);
      }
    };

    add(await readAllByUuid(src, [['locked_by_uuid', '=', tokenUuid]], opts.pageSize, opts.maxPages), true);
    const head = await readHead(src, opts.pageSize, opts.headPages, (uuid) => tracked.get(uuid)?.scheduling_parameters?.supervisor === true);
    add(head.items, true);
    const slice = head.complete ? { covered: { after: '' }, cursor: this.cursor } : await this.sweep(add);
    const covered = slice.covered;

    // Everything tracked that a list should have returned and did not.
    const ours: string[] = [];
    for (const [uuid, t] of tracked) {
      if (containers.has(uuid) || FINAL.has(t.state)) {
        this.suspects.delete(uuid);
        continue;
      }
      if ((t.state === 'Locked' || t.state === 'Running') && t.locked_by_uuid === tokenUuid) {
        ours.push(uuid);
        this.suspects.delete(uuid);
      } else if (t.state === 'Queued' && head.last && before(t, head.last)) {
        this.suspects.add(uuid);
      } else if (within(uuid, covered)) {
        this.suspects.add(uuid);
      }
    }
    // Moved only now: had the poll failed before, the stretch would be swept again.
    this.cursor = slice.cursor;
    const toCheck = [...ours];
    for (const uuid of this.suspects) {
      if (toCheck.length >= ours.length + opts.checksPerPoll) break;
      const t = tracked.get(uuid);
      if (!t || containers.has(uuid) || FINAL.has(t.state)) {
        this.suspects.delete(uuid);
        continue;
      }
      toCheck.push(uuid);
    }
    const checked = await checkByUuid(src, toCheck, opts.batchSize, opts.pageSize);
    add(checked.found, false);
    for (const uuid of toCheck) this.suspects.delete(uuid);
    return { containers, urgent, notFound: checked.gone };
  }

  /** Asks about these containers by `uuid in [...]` now (a refresh between polls). */
  check(uuids: readonly string[]): Promise<CheckResult> {
    return checkByUuid(this.src, uuids, this.opts.batchSize, this.opts.pageSize);
  }

  /** Reads this poll's slice of the sweep: the stretch of uuids it covered, and where the next slice starts. */
  private async sweep(add: (items: Listed[], urgent: boolean) => void): Promise<{ covered: Stretch; cursor: string }> {
    const start = this.cursor;
    let cursor = start;
    for (let i = 0; i < this.opts.sweepPages; i++) {
      const page = await pageByUuid(this.src, QUEUED, cursor, this.opts.pageSize);
      if (page.empty || page.lastUuid === undefined) {
        // The end (or nothing to page on): everything after `start` has been read. The next slice starts over.
        add(page.items, false);
        return { covered: { after: start }, cursor: '' };
      }
      add(page.items, false);
      cursor = page.lastUuid;
    }
    return { covered: { after: start, upTo: cursor }, cursor };
  }
}
