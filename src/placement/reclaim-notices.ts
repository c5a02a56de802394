/**
 * The interruption notices crunch-run reports. Started with EC2SpotCheck
 * (the ec2 driver's preemptible types, `src/worker/runner.ts`), crunch-run
 * polls the instance metadata for a spot interruption and, on one, writes
 * `runtime_status.preemptionNotice` (with `warning: "preemption notice"`)
 * on its container. The queue's lists do not select runtime_status, so this
 * reads it for the containers running on preemptible VMs, in batches, every
 * INTERVAL_MS, and tells the pool (`noticeReclaim`): that VM gets no new
 * containers, and the reclaim is counted before the VM is gone.
 *
 * Controller load: one list call per BATCH such containers per interval,
 * one call at a time; nothing while none runs.
 */
import type { ListParams } from '../arvados/client.js';
import type { Container, ItemList } from '../arvados/types.js';
import type { Clock, Timer } from '../clock/index.js';
import type { RateLimitedLog } from '../log.js';
import type { InstanceView } from '../scheduler/interfaces.js';

/** How often running spot containers are checked for a notice: crunch-run checks every 5 s, a VM has about two minutes. */
export const INTERVAL_MS = 20_000;
/** Containers per list call (a `uuid in [...]` filter). */
export const BATCH = 100;

export interface NoticeReaderDeps {
  client: { listContainers(params: ListParams): Promise<ItemList<Pick<Container, 'uuid' | 'runtime_status'>>> };
  pool: {
    instances(): InstanceView[];
    noticeReclaim(uuid: string, reason: string): boolean;
  };
  /** True for an instance type name that is preemptible. */
  preemptible(typeName: string): boolean;
  clock: Clock;
  log: RateLimitedLog;
}

export class NoticeReader {
  private timer: Timer | undefined;
  private busy = false;
  /** Containers whose notice was told already. */
  private readonly told = new Set<string>();

  constructor(private readonly deps: NoticeReaderDeps) {}

  start(): void {
    this.timer ??= this.deps.clock.setRepeatingTimer(INTERVAL_MS, () => void this.check());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** One round: reads the runtime_status of every container on a preemptible VM without a notice yet. */
  async check(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const uuids: string[] = [];
      // Every container still on such a VM, told or not: the told ones are remembered while they run there.
      const live = new Set<string>();
      for (const v of this.deps.pool.instances()) {
        if (v.reclaimNotice !== undefined || !this.deps.preemptible(v.arvadosInstanceType)) continue;
        for (const u of v.runningContainerUUIDs) {
          live.add(u);
          if (!this.told.has(u)) uuids.push(u);
        }
      }
      for (const u of this.told) if (!live.has(u)) this.told.delete(u);
      for (let i = 0; i < uuids.length; i += BATCH) await this.read(uuids.slice(i, i + BATCH));
    } finally {
      this.busy = false;
    }
  }

  /**
   * Reads `batch`, asking again for what an answer left out: the controller
   * caps a page at its MaxItemsPerResponse, which may be below BATCH. Ends
   * when all were answered, or an answer brings none of those asked for
   * (the rest have gone).
   */
  private async read(batch: string[]): Promise<void> {
    let rest = batch;
    while (rest.length > 0) {
      let list: ItemList<Pick<Container, 'uuid' | 'runtime_status'>>;
      try {
        list = await this.deps.client.listContainers({ filters: [['uuid', 'in', rest]], select: ['uuid', 'runtime_status'], limit: rest.length });
      } catch (err) {
        this.deps.log.warn('reclaims: cannot read the runtime status of running spot containers', { error: err }, 'reclaim notices');
        return;
      }
      const answered = new Set<string>();
      for (const c of list.items) {
        answered.add(c.uuid);
        const notice = c.runtime_status?.preemptionNotice;
        if (typeof notice !== 'string' || notice === '' || this.told.has(c.uuid)) continue;
        this.told.add(c.uuid);
        this.deps.pool.noticeReclaim(c.uuid, `crunch-run: ${notice}`);
      }
      const next = rest.filter((u) => !answered.has(u));
      if (next.length === rest.length) return;
      rest = next;
    }
  }
}
