/**
 * The demo's workload: a seeded mix that exercises the scheduler's rules —
 * small and larger containers (packing), priorities, some preemptible
 * containers (the `.preemptible` variants), a GPU one when a GPU type is
 * configured, and one that no instance type can satisfy (cancelled with the
 * reference's message).
 */
import { Random } from '../../drivers/lame/random.js';
import type { Cluster } from '../config/types.js';

const GiB = 1 << 30;

/** One container to submit, and when (ms after the demo starts). */
export interface DemoContainer {
  at: number;
  command: string[];
  vcpus: number;
  ram: number;
  priority: number;
  preemptible: boolean;
  /** Why the demo included it, shown in the summary when it is cancelled. */
  note?: string;
}

const SHAPES: Array<{ vcpus: number; ram: number; weight: number }> = [
  { vcpus: 1, ram: 1 * GiB, weight: 5 },
  { vcpus: 1, ram: 2 * GiB, weight: 3 },
  { vcpus: 2, ram: 3 * GiB, weight: 2 },
  { vcpus: 4, ram: 8 * GiB, weight: 1 },
];

/**
 * `count` containers over the first `spreadMs`: every seventh asks for a
 * preemptible instance (when the config offers preemptible variants), one
 * in twenty fails (`false`), and the last asks for more VCPUs than any type has.
 */
export function demoWorkload(cluster: Cluster, count: number, seed: number, spreadMs = 8_000): DemoContainer[] {
  const rnd = new Random(seed);
  const hasPreemptible = Object.values(cluster.InstanceTypes).some((t) => t.Preemptible);
  const maxVCPUs = Math.max(0, ...Object.values(cluster.InstanceTypes).map((t) => t.VCPUs));
  const totalWeight = SHAPES.reduce((n, s) => n + s.weight, 0);
  const out: DemoContainer[] = [];
  for (let i = 0; i < count - 1; i++) {
    let pick = rnd.next() * totalWeight;
    const shape = SHAPES.find((s) => (pick -= s.weight) < 0) ?? SHAPES[0];
    const seconds = Math.round(rnd.between(1, 5));
    const fails = i % 20 === 19;
    out.push({
      at: Math.round(rnd.between(0, spreadMs)),
      command: fails ? ['false'] : ['sleep', String(seconds)],
      vcpus: shape.vcpus,
      ram: shape.ram,
      priority: 1 + Math.floor(rnd.next() * 10),
      preemptible: hasPreemptible && i % 7 === 3,
    });
  }
  out.push({
    at: 0,
    command: ['sleep', '1'],
    vcpus: maxVCPUs * 2 + 1,
    ram: GiB,
    priority: 5,
    preemptible: false,
    note: 'asks for more VCPUs than any instance type has',
  });
  return out.sort((a, b) => a.at - b.at);
}
