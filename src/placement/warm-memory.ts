/**
 * What each VM has run recently, as far as locality cares: the images
 * (`container_image`) and input collections (PDHs of `collection` mounts)
 * of the containers the pool ran on it. Learnt from the pool's view each
 * pass; empty after a restart (nothing is assumed), and an instance that
 * leaves the pool is forgotten.
 *
 * Each VM's memory is bounded and least recently used first out, like the
 * disk caches it stands for; an inverted index answers "which VMs have this
 * image" without scanning every VM.
 */

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

  keys(): IterableIterator<string> {
    return this.items.values();
  }
}

interface VmMemory {
  images: RecentSet;
  inputs: RecentSet;
}

export class WarmMemory {
  private readonly vms = new Map<string, VmMemory>();
  private readonly byImage = new Map<string, Set<string>>();
  private readonly byInput = new Map<string, Set<string>>();

  /** The VM ran (or runs) a container with this image and these inputs. */
  observe(instance: string, image: string, inputs: readonly string[] = []): void {
    let m = this.vms.get(instance);
    if (!m) this.vms.set(instance, (m = { images: new RecentSet(MAX_IMAGES_PER_VM), inputs: new RecentSet(MAX_INPUTS_PER_VM) }));
    if (image !== '') remember(m.images, this.byImage, instance, image);
    for (const pdh of inputs) remember(m.inputs, this.byInput, instance, pdh);
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
