/**
 * One GCE VM as the dispatcher sees it: built from an insert+get or an
 * aggregatedList record, with the calls that act on it. Its id is the
 * instance name (unique in the project: we choose it, randomly), because
 * every per-instance API call is addressed by zone and name.
 */
import type { protos } from '@google-cloud/compute';
import { HostKeyVerificationNotImplemented } from '../../src/cloud/errors.js';
import type { Instance, InstanceTags } from '../../src/cloud/types.js';
import type { Executor } from '../../src/ssh/executor.js';
import { labelsFor, type GceInstanceRecord } from './body.js';
import type { GceClients } from './client.js';
import { isNotFound, isNotReady, isPreconditionFailed } from './errors.js';
import { decodeTags, encodeTags, itemValue, shortName, TAGS_METADATA_KEY, withItem } from './mapping.js';

type Operation = protos.google.cloud.compute.v1.IOperation;

/** What an instance needs from its instance set. */
export interface GceInstanceHost {
  readonly project: string;
  readonly remoteUser: string;
  readonly setTagKey: string;
  readonly clients: GceClients;
  /** An idempotent call, retried on 5xx and classified. */
  call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  waitOperation(zone: string, op: Operation, what: string): Promise<Operation>;
  fetch(zone: string, name: string): Promise<GceInstanceRecord>;
}

/**
 * Statuses of a Spot VM on its way out: GCE preempts one by stopping it
 * (`STOPPING`, then `TERMINATED`), and with instanceTerminationAction
 * DELETE, which our creates ask for, it may also show `DEPROVISIONING`
 * ("halted and we are performing tear down tasks", compute.proto
 * Instance.Status) before it is gone.
 */
const PREEMPTED_STATUSES: ReadonlySet<string> = new Set(['STOPPING', 'TERMINATED', 'DEPROVISIONING']);

/**
 * True for a Spot (or legacy preemptible) VM that is stopping, stopped or
 * being torn down: GCE records a zone operation `compute.instances.preempted`
 * too, but the status says it without an operations call per zone per
 * listing. The dispatcher never stops a VM, and a VM this process deletes is
 * not taken as reclaimed (the pool ignores notices after a destroy call).
 * One it deleted before a restart is: the new process cannot tell that
 * delete from a preemption by the status (README, "Instances").
 */
export function preempted(record: GceInstanceRecord): boolean {
  const s = record.scheduling;
  const spot = s?.provisioningModel === 'SPOT' || s?.preemptible === true;
  return spot && PREEMPTED_STATUSES.has(String(record.status));
}

const opOf = (x: unknown): Operation => (x as { latestResponse?: Operation })?.latestResponse ?? (x as Operation) ?? {};

export class GceInstance implements Instance {
  readonly id: string;
  readonly providerType: string;
  readonly tags: InstanceTags;
  readonly address: string;
  readonly zone: string;
  /** A Spot VM GCE is preempting or has preempted (`Instance.reclaimed`); see `preempted`. */
  readonly reclaimed?: boolean;
  /** The record our last read or write was based on (fingerprints, other metadata items). */
  private record: GceInstanceRecord;

  constructor(
    private readonly host: GceInstanceHost,
    record: GceInstanceRecord,
    zone?: string,
    tags?: InstanceTags,
  ) {
    this.record = record;
    this.id = record.name ?? '';
    this.zone = zone ?? shortName(record.zone);
    this.providerType = shortName(record.machineType);
    // After a create, the caller's tags are authoritative even if the read-back failed.
    this.tags = { ...(tags ?? decodeTags(itemValue(record.metadata?.items, TAGS_METADATA_KEY))) };
    this.address = record.networkInterfaces?.[0]?.networkIP ?? '';
    if (preempted(record)) this.reclaimed = true;
  }

  get remoteUser(): string {
    return this.host.remoteUser;
  }

  /**
   * Replaces the `arvados-tags` metadata item (other items, like the startup
   * script and SSH keys, stay), with the fingerprint of our last read; when
   * that is stale (412) re-reads once and tries again. Updates the
   * InstanceSetID label too if it changed.
   */
  async setTags(tags: InstanceTags): Promise<void> {
    const what = `setMetadata ${this.id}`;
    let rec = this.record;
    for (let attempt = 0; ; attempt++) {
      if (rec.metadata?.fingerprint == null) rec = await this.host.fetch(this.zone, this.id);
      const metadataResource = { fingerprint: rec.metadata?.fingerprint, items: withItem(rec.metadata?.items ?? [], TAGS_METADATA_KEY, encodeTags(tags)) };
      try {
        const [lro] = await this.host.call(what, () =>
          this.host.clients.instances.setMetadata({ project: this.host.project, zone: this.zone, instance: this.id, metadataResource }),
        );
        await this.host.waitOperation(this.zone, opOf(lro), what);
        // The fingerprint changed: the next setTags must read it again.
        this.record = { ...rec, metadata: { items: metadataResource.items } };
        break;
      } catch (err) {
        if (attempt === 0 && isPreconditionFailed(err)) {
          rec = await this.host.fetch(this.zone, this.id);
          continue;
        }
        throw err;
      }
    }
    await this.updateLabels(tags);
    for (const k of Object.keys(this.tags)) delete this.tags[k];
    Object.assign(this.tags, tags);
  }

  private async updateLabels(tags: InstanceTags): Promise<void> {
    const want = labelsFor(tags, this.host.setTagKey);
    const have = this.record.labels ?? {};
    const key = Object.keys(labelsFor({ [this.host.setTagKey]: '' }, this.host.setTagKey))[0];
    if ((want[key] ?? undefined) === (have[key] ?? undefined)) return;
    const rec = await this.host.fetch(this.zone, this.id);
    const labels: Record<string, string> = { ...(rec.labels ?? {}) };
    delete labels[key];
    Object.assign(labels, want);
    const what = `setLabels ${this.id}`;
    const [lro] = await this.host.call(what, () =>
      this.host.clients.instances.setLabels({
        project: this.host.project,
        zone: this.zone,
        instance: this.id,
        instancesSetLabelsRequestResource: { labelFingerprint: rec.labelFingerprint, labels },
      }),
    );
    await this.host.waitOperation(this.zone, opOf(lro), what);
    this.record = { ...this.record, labels };
  }

  /**
   * Starts deletion and returns. A VM already gone (404) is what we wanted.
   * So is a VM GCE calls not ready: that is its answer to a second delete
   * while the first still runs, which the pool sends when a VM it destroyed
   * is still listed TimeoutShutdown later (a delete takes a minute or so);
   * if something else held the VM, the pool's next retry deletes it.
   */
  async destroy(): Promise<void> {
    try {
      await this.host.call(`delete ${this.id}`, () => this.host.clients.instances.delete({ project: this.host.project, zone: this.zone, instance: this.id }));
    } catch (err) {
      if (isNotFound(err) || isNotReady(err)) return;
      throw err;
    }
  }

  /** Host keys could come from guest attributes, but images need an agent for that: use the InstanceSecret check. */
  async verifyHostKey(_key: Buffer, _executor: Executor): Promise<void> {
    throw new HostKeyVerificationNotImplemented();
  }
}
