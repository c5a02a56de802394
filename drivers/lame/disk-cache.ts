/**
 * What a lame VM has on its disk: container images it pulled and input
 * collections it read, so that the second container of an image on the
 * same VM starts without the pull, as on a real VM whose docker and keep
 * caches are warm. The simulator measures locality by it.
 *
 * The disk is bounded (`LocalCacheSize`) and least recently used content is
 * evicted first, as docker's image garbage collection and arv-mount's disk
 * cache both roughly do.
 */
import { estimateImageSize } from '../../src/queue/instance-types.js';

/** What one container's start cost on a VM beyond its own run time. */
export interface WarmUp {
  /** Time spent pulling the image (0 when the VM had it). */
  pullMs: number;
  /** Time spent reading input collections the VM had not read. */
  coldInputMs: number;
}

/** Totals over every container started on a cloud, for the simulator's report. */
export interface WarmUpTotals {
  imagePulls: number;
  imagePullMs: number;
  coldInputs: number;
  coldInputMs: number;
}

const GiB = 1024 ** 3;

/** The knobs of the cost model (`DriverParameters`, see params.ts). */
export interface WarmUpParams {
  ImagePullTimePerGiB: number;
  ColdInputTimePerGiB: number;
  LocalCacheSize: number;
}

/**
 * Bytes a PDH stands for, as the dispatcher's scratch estimate reads it: the
 * manifest size in the PDH's `+N` hint, one 64 MiB block per 42 bytes of it.
 * The simulator's workloads write their image and input PDHs that way.
 */
export const pdhBytes = estimateImageSize;

/** A bounded LRU of content on one VM's disk, by key (image or collection PDH). */
export class DiskCache {
  /** key -> bytes and when the content is in place (a pull in progress has a future time); Map order is recency. */
  private readonly items = new Map<string, { bytes: number; readyAt: number }>();
  private used = 0;

  constructor(private readonly capacity: () => number) {}

  /**
   * Makes sure `key` is on disk at `now` or later: returns how long the
   * caller waits for it (0 when it was there; the rest of a pull another
   * container started). Content bigger than the disk is fetched anyway and
   * not kept.
   */
  fetch(key: string, bytes: number, now: number, fetchMs: number): number {
    const have = this.items.get(key);
    if (have) {
      this.items.delete(key);
      this.items.set(key, have);
      return Math.max(0, have.readyAt - now);
    }
    const limit = this.capacity();
    if (bytes > limit) return fetchMs;
    this.items.set(key, { bytes, readyAt: now + fetchMs });
    this.used += bytes;
    for (const [k, v] of this.items) {
      if (this.used <= limit) break;
      this.items.delete(k);
      this.used -= v.bytes;
    }
    return fetchMs;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }
}

/**
 * What starting a container with `image` and input collections `inputs` costs
 * on a VM with this disk: the pull of an image it lacks, and the cold read of
 * each input it lacks, at the rates in `params`. Updates the disk and `totals`.
 */
export function warmUp(disk: DiskCache, params: WarmUpParams, image: string, inputs: readonly string[], now: number, totals: WarmUpTotals): WarmUp {
  const out: WarmUp = { pullMs: 0, coldInputMs: 0 };
  const imageBytes = pdhBytes(image);
  if (params.ImagePullTimePerGiB > 0 && imageBytes > 0) {
    out.pullMs = disk.fetch(`image:${image}`, imageBytes, now, Math.round((imageBytes / GiB) * params.ImagePullTimePerGiB));
    if (out.pullMs > 0) totals.imagePulls++;
  }
  if (params.ColdInputTimePerGiB > 0) {
    for (const pdh of inputs) {
      const bytes = pdhBytes(pdh);
      if (bytes === 0) continue;
      const ms = disk.fetch(`input:${pdh}`, bytes, now + out.pullMs, Math.round((bytes / GiB) * params.ColdInputTimePerGiB));
      if (ms > 0) totals.coldInputs++;
      out.coldInputMs += ms;
    }
  }
  totals.imagePullMs += out.pullMs;
  totals.coldInputMs += out.coldInputMs;
  return out;
}
