/**
 * The `instances` and `containers` subcommands: an operator's view of, and
 * levers on, a running dispatcher, through its management API. Each function
 * returns the exit status (0 done, 1 the daemon could not be reached or said
 * no, 2 the config does not say how to reach it) and writes only to the
 * streams it is given, so tests can run them in-process.
 */
import { AdminError, type ConfigOptions, ManagementClient, type ManagementTarget, targetsFromConfig } from './client.js';
import { type ContainerItem, containersTable, type InstanceItem, instancesTable } from './format.js';
import { formatWhy, type WhyItem, type WhyTimeline } from './why-format.js';
import { systemClock } from '../clock/index.js';

const API = '/arvados/v1/dispatch';

/** What every admin command is given: how to find the daemon and where to write. */
export interface AdminContext extends ConfigOptions {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Skips the config file (tests, or callers that already loaded the cluster). */
  target?: ManagementTarget;
  /** Several, tried in turn as the config's InternalURLs are; `target` wins. */
  targets?: ManagementTarget[];
}

export type InstanceAction = 'hold' | 'drain' | 'run' | 'kill';

export interface ListOptions {
  json?: boolean;
}

/** `instances list`: the dispatcher's VMs as a table, or the raw items with --json. */
export function listInstances(ctx: AdminContext, opts: ListOptions = {}): Promise<number> {
  return run(ctx, async (client, out) => {
    const items = itemsOf(await client.get(`${API}/instances`)) as InstanceItem[];
    out.write(opts.json ? `${JSON.stringify(items, null, 2)}\n` : instancesTable(items));
  });
}

/**
 * `instances hold|drain|run|kill ID...`: each ID in turn, the config read
 * once (a bad one is said once, before any request); the exit status is the worst.
 */
export async function instanceActions(ctx: AdminContext, action: InstanceAction, instanceIds: readonly string[], reason?: string): Promise<number> {
  let targets: ManagementTarget[];
  try {
    targets = ctx.target ? [ctx.target] : (ctx.targets ?? targetsFromConfig(ctx));
  } catch (e) {
    if (!(e instanceof AdminError)) throw e;
    (ctx.stderr ?? process.stderr).write(`arvados-dispatch-cloud: ${e.message}\n`);
    return e.exitCode;
  }
  let worst = 0;
  for (const id of instanceIds) worst = Math.max(worst, await instanceAction({ ...ctx, target: undefined, targets }, action, id, reason));
  return worst;
}

/** `instances hold|drain|run|kill ID`: sets an instance's idle behaviour, or destroys it now. */
export function instanceAction(ctx: AdminContext, action: InstanceAction, instanceId: string, reason?: string): Promise<number> {
  return run(ctx, async (client, out) => {
    try {
      await client.post(`${API}/instances/${action}`, { instance_id: instanceId, reason: action === 'kill' ? reason : undefined });
    } catch (e) {
      // Neither the daemon's 404 ("requested instance does not exist") nor a
      // failure to reach it says which: with several IDs on one command line,
      // the operator could not tell.
      if (e instanceof AdminError) throw new AdminError(`${instanceId}: ${e.message}`, e.exitCode, { cause: e }, e.httpStatus, e.elsewhere);
      throw e;
    }
    out.write(action === 'kill' ? `${instanceId}: shutting down\n` : `${instanceId}: idle behavior set to ${action}\n`);
  });
}

/** `containers list`: the queue in scheduling order as a table, or the raw items with --json. */
export function listContainers(ctx: AdminContext, opts: ListOptions = {}): Promise<number> {
  return run(ctx, async (client, out) => {
    const items = itemsOf(await client.get(`${API}/containers`)) as ContainerItem[];
    out.write(opts.json ? `${JSON.stringify(items, null, 2)}\n` : containersTable(items));
  });
}

/**
 * `containers kill UUID`: asks crunch-run to stop the container on the VM it
 * runs on. The daemon can only kill what runs on one of its VMs: its 404 is
 * also the answer for a container it has queued or locked but not started.
 */
export function killContainer(ctx: AdminContext, uuid: string, reason?: string): Promise<number> {
  return run(ctx, async (client, out) => {
    try {
      await client.post(`${API}/containers/kill`, { container_uuid: uuid, reason: reason ?? 'killed by operator (arvados-dispatch-cloud containers kill)' });
    } catch (e) {
      if (e instanceof AdminError && e.httpStatus === 404) {
        throw new AdminError(
          notAContainer(uuid) ??
            `${uuid}: not running on any VM, so there is nothing to kill (a queued or locked container is not on a VM yet: cancel its container request instead)`,
          1,
          { cause: e },
          404,
        );
      }
      throw e;
    }
    out.write(`${uuid}: kill requested\n`);
  });
}

/**
 * `containers why UUID`: why the container is not running (the reference's
 * status and the structured blocker), when it should start and what would
 * help when the dispatcher says, and its timeline; `--json` prints both answers.
 */
export function whyContainer(ctx: AdminContext, uuid: string, opts: ListOptions = {}): Promise<number> {
  return run(ctx, async (client, out) => {
    let item: WhyItem;
    try {
      item = (await client.get(`${API}/container`, { container_uuid: uuid })) as WhyItem;
    } catch (e) {
      if (e instanceof AdminError && e.httpStatus === 404 && !e.elsewhere) throw new AdminError(notAContainer(uuid) ?? `${uuid}: not in the dispatcher's queue (finished, not ours, or not seen yet)`);
      throw e;
    }
    let timeline: WhyTimeline | undefined;
    try {
      timeline = (await client.get(`${API}/container/timeline`, { container_uuid: uuid })) as WhyTimeline;
    } catch (e) {
      // An older dispatcher, or none recorded yet: the rest still says why.
      if (!(e instanceof AdminError && e.httpStatus === 404)) throw e;
    }
    out.write(opts.json ? `${JSON.stringify({ container: item, timeline: timeline ?? null }, null, 2)}\n` : formatWhy(item, timeline, systemClock.now()));
  });
}

/** An Arvados container UUID: the cluster id, the containers' type infix, 15 characters. */
const CONTAINER_UUID = /^[a-z0-9]{5}-dz642-[a-z0-9]{15}$/;

/** What to say, when the dispatcher knows no such container, of a word that is not a container UUID at all (a request's, a typo); undefined for one that is. */
function notAContainer(uuid: string): string | undefined {
  if (CONTAINER_UUID.test(uuid)) return undefined;
  const request = /^[a-z0-9]{5}-xvhdp-[a-z0-9]{15}$/.test(uuid) ? ": that is a container request's; its container_uuid names its container" : '';
  return `${uuid}: not a container UUID (they look like zzzzz-dz642-0123456789abcde)${request}`;
}

/**
 * Resolves the targets and runs `fn` against each in turn until one
 * answers: the next is tried only when one cannot be reached or says 503 (a
 * standby waiting for the dispatch lock). Any other answer, an error
 * included, is the dispatcher's word. An AdminError becomes its message
 * (one line per target tried) and exit status.
 */
async function run(ctx: AdminContext, fn: (client: ManagementClient, out: NodeJS.WritableStream) => Promise<void>): Promise<number> {
  const out = ctx.stdout ?? process.stdout;
  const err = ctx.stderr ?? process.stderr;
  const report = (e: AdminError, target?: ManagementTarget): void => {
    const where = target && !e.message.includes(target.baseURL) ? `${target.baseURL}: ` : '';
    err.write(`arvados-dispatch-cloud: ${where}${e.message}\n`);
  };
  try {
    const targets = ctx.target ? [ctx.target] : (ctx.targets ?? targetsFromConfig(ctx));
    const failed: Array<[ManagementTarget, AdminError]> = [];
    for (const target of targets) {
      try {
        await fn(new ManagementClient(target), out);
        return 0;
      } catch (e) {
        if (!(e instanceof AdminError) || !e.elsewhere) throw e;
        failed.push([target, e]);
      }
    }
    for (const [target, e] of failed) report(e, targets.length > 1 ? target : undefined);
    return 1;
  } catch (e) {
    if (!(e instanceof AdminError)) throw e;
    report(e);
    return e.exitCode;
  }
}

function itemsOf(body: unknown): unknown[] {
  const items = (body as { items?: unknown } | null)?.items;
  // The reference's empty list is null (a nil Go slice).
  if (items === null) return [];
  if (!Array.isArray(items)) throw new AdminError('the dispatcher answered without an "items" list; is the InternalURL really the dispatcher?');
  return items;
}
