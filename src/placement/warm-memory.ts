/**
 * What each VM has run recently, as far as locality cares: the images
 * (`container_image`) and input collections (PDHs of `collection` mounts)
 * of the containers the pool ran on it. Learnt from the pool's view each
 * pass; empty after a restart (nothing is assumed), and an instance that
 * leaves the pool is forgotten.
 *
 * Each VM's memory is bounded and least recently used first out, like the
 * disk caches it stands for; an inverted index answers "which VMs have this
 * image" without scanning every VM. Besides the counts, the bytes: the
 * images and inputs a VM used, sized from their PDHs, are kept only while
 * they and everything used after them fit `budget`, which starts unbounded
 * and is lowered by what the planner learns (`limitBytes`): a VM's disk
 * drops what it cannot hold, and a memory that does not follow sends
 * containers to VMs that pull after all.
 */
import { estimateImageSize } from '../queue/instance-types.js';

/** Per VM, at most this many images and this many inputs are remembered. */
export const MAX_IMAGES_PER_VM = 16;
export const MAX_INPUTS_PER_VM = 256;

/** A bounded recency set; `add` returns what it evicted. */
class RecentSet {
  private readonly items = new Set<string>();

  constructor(private readonly cap: number) {}

  add(key: string): string | undefined {
    if (this.items.delete(key)) {
      this.items.add(key);
      return undefined;
    }
    this.items.add(key);
    if (this.items.size <= this.cap) return undefined;
    const oldest = this.items.values().next().value as string;
    this.items.delete(oldest);
    return oldest;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  delete(key: string): void {
    this.items.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.items.values();
  }
}

interface VmMemory {
  images: RecentSet;
  inputs: RecentSet;
  /** Images ("i:" + image) and inputs ("c:" + PDH): bytes, and when first seen there; least recently used first. */
  disk: Map<string, { bytes: number; since: number }>;
  used: number;
}

export class WarmMemory {
  private readonly vms = new Map<string, VmMemory>();
  private readonly byImage = new Map<string, Set<string>>();
  private readonly byInput = new Map<string, Set<string>>();
  /** Bytes of images and inputs a VM is taken to keep (Infinity until learnt otherwise). */
  private budget = Infinity;

  /** The VM ran (or runs) a container with this image and these inputs. */
  observe(instance: string, image: string, inputs: readonly string[] = [], now = 0): void {
    let m = this.vms.get(instance);
    if (!m) this.vms.set(instance, (m = { images: new RecentSet(MAX_IMAGES_PER_VM), inputs: new RecentSet(MAX_INPUTS_PER_VM), disk: new Map(), used: 0 }));
    if (image !== '') {
      remember(m.images, this.byImage, instance, image);
      touch(m, `i:${image}`, now);
    }
    for (const pdh of inputs) {
      remember(m.inputs, this.byInput, instance, pdh);
      touch(m, `c:${pdh}`, now);
    }
    this.evict(instance, m);
  }

  /**
   * Bytes of the image on the VM and of everything it used after it: a VM
   * that turns out not to have it kept less than that. Undefined when the
   * VM is not known to have it, or has had it only since after
   * `seenBefore` (epoch ms): its pull may still be going on.
   */
  depthOf(instance: string, image: string, seenBefore: number): number | undefined {
    const m = this.vms.get(instance);
    const key = `i:${image}`;
    const it = m?.disk.get(key);
    if (!m || !it || it.since > seenBefore) return undefined;
    let before = 0;
    for (const [k, v] of m.disk) {
      if (k === key) break;
      before += v.bytes;
    }
    return m.used - before;
  }

  /** VMs keep less than `bytes` of images and inputs (never below 1 GiB): forgets on every VM what does not fit. */
  limitBytes(bytes: number): void {
    const budget = Math.max(MIN_BUDGET, bytes - 1);
    if (budget >= this.budget) return;
    this.budget = budget;
    for (const [id, m] of this.vms) this.evict(id, m);
  }

  /** Bytes each VM is taken to keep (Infinity: not learnt). */
  get bytesKept(): number {
    return this.budget;
  }

  private evict(instance: string, m: VmMemory): void {
    for (const [k, v] of m.disk) {
      if (m.used <= this.budget) break;
      m.disk.delete(k);
      m.used -= v.bytes;
      const key = k.slice(2);
      if (k.startsWith('i:')) {
        m.images.delete(key);
        unindex(this.byImage, key, instance);
      } else {
        m.inputs.delete(key);
        unindex(this.byInput, key, instance);
      }
    }
  }

  /** Forgets every VM not in `live` (it is gone). */
  retain(live: ReadonlySet<string>): void {
    for (const [id, m] of this.vms) {
      if (live.has(id)) continue;
      for (const image of m.images.keys()) unindex(this.byImage, image, id);
      for (const pdh of m.inputs.keys()) unindex(this.byInput, pdh, id);
      this.vms.delete(id);
    }
  }

  /** VMs that have the image. */
  withImage(image: string): ReadonlySet<string> | undefined {
    return this.byImage.get(image);
  }

  /** VMs that have the input. */
  withInput(pdh: string): ReadonlySet<string> | undefined {
    return this.byInput.get(pdh);
  }

  /** The images the VM has (none for an unknown VM). */
  imagesOf(instance: string): Iterable<string> {
    return this.vms.get(instance)?.images.keys() ?? [];
  }

  /** 1: the VM has the image; 2: some of the inputs; 0: neither (or unknown VM). */
  level(instance: string, image: string, inputs: readonly string[] = []): 0 | 1 | 2 {
    const m = this.vms.get(instance);
    if (!m) return 0;
    if (m.images.has(image)) return 1;
    return inputs.some((pdh) => m.inputs.has(pdh)) ? 2 : 0;
  }

  /** VMs remembered (for tests and the log). */
  get size(): number {
    return this.vms.size;
  }
}

/** A floor for the learnt budget: one odd start must not make locality forget everything. */
const MIN_BUDGET = 2 ** 30;

/** Marks `key` most recently used on the VM's disk, sized from its PDH the first time. */
function touch(m: VmMemory, key: string, now: number): void {
  const it = m.disk.get(key);
  if (it !== undefined) {
    m.disk.delete(key);
    m.disk.set(key, it);
    return;
  }
  const bytes = estimateImageSize(key.slice(2));
  m.disk.set(key, { bytes, since: now });
  m.used += bytes;
}

function remember(set: RecentSet, index: Map<string, Set<string>>, instance: string, key: string): void {
  const evicted = set.add(key);
  if (evicted !== undefined) unindex(index, evicted, instance);
  let ids = index.get(key);
  if (!ids) index.set(key, (ids = new Set()));
  ids.add(instance);
}

function unindex(index: Map<string, Set<string>>, key: string, instance: string): void {
  const ids = index.get(key);
  if (!ids) return;
  ids.delete(instance);
  if (ids.size === 0) index.delete(key);
}
