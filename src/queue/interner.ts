/**
 * Shares one object among equal instance-type lists, and one among equal
 * sizes. A backlog of 100k containers has a few dozen shapes; the scheduler
 * keys its per-pass placement decisions on these objects' identity, and
 * every queue (the real one, and the fakes tests and benchmarks use) must
 * hand them out this way.
 */
import type { InstanceType } from '../config/types.js';
import type { InstanceResources } from '../scheduler/interfaces.js';

export class Interner {
  private readonly typeLists = new Map<string, InstanceType[]>();
  private readonly sizes = new Map<string, InstanceResources>();

  types(list: InstanceType[]): InstanceType[] {
    const key = list.map((t) => t.Name).join('\u0000');
    const found = this.typeLists.get(key);
    if (found && found.length === list.length && found.every((t, i) => t === list[i])) return found;
    this.typeLists.set(key, list);
    return list;
  }

  resources(r: InstanceResources): InstanceResources {
    const key = `${r.vcpus}|${r.ram}|${r.scratch}|${r.gpus}|${r.gpuVRAM}`;
    const found = this.sizes.get(key);
    if (found) return found;
    this.sizes.set(key, r);
    return r;
  }
}
