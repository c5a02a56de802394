/**
 * Which configured instance types can run a container (ARVADOS.md section
 * 5), as the reference decides it (lib/dispatchcloud/container/node_size.go):
 * what the container needs of a VM, then every type that has it, cheapest
 * first, capped at MaximumPriceFactor times the cheapest.
 *
 * All sizes are integers of bytes and the arithmetic is integer arithmetic,
 * so a container fits or misses a type exactly where the reference says.
 */
import type { Container } from '../arvados/types.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { InstanceResources } from '../scheduler/interfaces.js';
import { parseVersion } from '../config/versions.js';
import { compareCodeUnits } from '../compare.js';

const MiB = 2 ** 20;

/**
 * The share of an instance type's configured RAM assumed lost to the kernel
 * and the cloud's own accounting: a container must fit in 95% of it.
 */
const DISCOUNT_CONFIGURED_RAM_PERCENT = 5;

/** keepstore's own footprint when the VM runs a local keepstore: 200 MiB + 10% (GOGC=10). */
const LOCAL_KEEPSTORE_RAM = 220 * MiB;

/** One keep block buffer. */
const KEEP_BLOCK_SIZE = 64 * MiB;

/** The container cannot run on any configured type; the queue cancels it with this message. */
export class ConstraintsNotSatisfiableError extends Error {
  override readonly name = 'ConstraintsNotSatisfiableError';
  constructor(
    message = 'constraints not satisfiable by any configured instance type',
    /** Every configured type, cheapest first, for a report to the user. */
    readonly availableTypes: InstanceType[] = [],
  ) {
    super(message);
  }
}

/** `InstanceTypes` is empty: no container can run. */
export class NoInstanceTypesError extends Error {
  override readonly name = 'NoInstanceTypesError';
  constructor() {
    super('site configuration does not list any instance types');
  }
}

/** `a / b` rounded toward zero, exact for integers below 2^53 (no float rounding at the boundary). */
function intDiv(a: number, b: number): number {
  return (a - (a % b)) / b;
}

const PDH = /^[0-9a-f]{32}\+(\d+)$/;

/**
 * Disk a Docker image loaded from this collection needs, estimated from its
 * portable data hash alone: an image stored by arv-keepdocker has a
 * manifest of one file whose length is about 80 characters plus 42 per
 * 64 MiB block (`<32 hex>+<size> `). Manifests under 122 bytes, and anything
 * that is not a plain PDH, count as 0.
 */
export function estimateImageSize(containerImage: string): number {
  const m = PDH.exec(containerImage);
  if (!m) return 0;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n) || n < 122) return 0;
  return intDiv(n - 80, 42) * KEEP_BLOCK_SIZE;
}

/**
 * Scratch disk the container needs: its `tmp` mounts, but at least the
 * image size (the image tarball is buffered on disk while it loads, and
 * that space is the container's afterwards), plus the extracted image,
 * plus arv-mount's disk cache.
 */
export function estimateScratchSpace(container: Container): number {
  let scratch = 0;
  for (const m of Object.values(container.mounts ?? {})) {
    if (m.kind === 'tmp') scratch += m.capacity ?? 0;
  }
  const image = estimateImageSize(container.container_image);
  scratch = Math.max(scratch, image) + image;
  return scratch + (container.runtime_constraints.keep_cache_disk ?? 0);
}

/**
 * What the container needs of an instance, system overhead included: RAM
 * adds the keep cache, ReserveExtraRAM and (with a local keepstore) its
 * buffers, then grows by 100/95 so it fits the discounted RAM of a type.
 */
export function instanceResourcesNeeded(cluster: Cluster, container: Container): InstanceResources {
  const rc = container.runtime_constraints;
  const c = cluster.Containers;
  let ram = rc.ram + (rc.keep_cache_ram ?? 0) + c.ReserveExtraRAM;
  if (c.LocalKeepBlobBuffersPerVCPU > 0) {
    ram += LOCAL_KEEPSTORE_RAM;
    ram += intDiv(c.LocalKeepBlobBuffersPerVCPU * rc.vcpus * KEEP_BLOCK_SIZE * 11, 10);
  }
  ram = intDiv(ram * 100, 100 - DISCOUNT_CONFIGURED_RAM_PERCENT);
  return {
    vcpus: rc.vcpus,
    ram,
    scratch: estimateScratchSpace(container),
    gpus: rc.gpu?.device_count ?? 0,
    gpuVRAM: rc.gpu?.vram ?? 0,
  };
}

/** True if version `have` is below `want`, or either does not parse (the type is then refused). */
function versionInsufficient(have: string, want: string): boolean {
  const h = parseVersion(have);
  const w = parseVersion(want);
  return h === undefined || w === undefined || h < w;
}

/**
 * True if the type's GPU hardware cannot serve the request. CUDA: one
 * requested target is a minimum compute capability; several are a list to
 * match exactly; none matches nothing. ROCm: an exact LLVM target from the list.
 */
function hardwareInsufficient(stack: string, wanted: readonly string[], have: string): boolean {
  if (stack === 'cuda') {
    if (wanted.length === 1) return versionInsufficient(have, wanted[0]);
    return !wanted.includes(have);
  }
  if (stack === 'rocm') return !wanted.includes(have);
  return false;
}

/** Why `it` cannot run the container, or undefined if it can. For logs and tests. */
export function rejectReason(it: InstanceType, need: InstanceResources, container: Container): string | undefined {
  const gpu = container.runtime_constraints.gpu;
  const stack = gpu?.stack ?? '';
  const preemptible = container.scheduling_parameters?.preemptible ?? false;
  if (it.Scratch < need.scratch) return 'scratch';
  if (it.RAM < need.ram) return 'RAM';
  if (it.VCPUs < need.vcpus) return 'VCPUs';
  if (it.Preemptible !== preemptible) return 'preemptible';
  if (it.GPU.Stack !== stack) return 'GPU stack';
  if (it.GPU.DeviceCount < need.gpus) return 'GPU devices';
  // A type that does not say how much VRAM it has has none to offer: Arvados
  // 3.3 dropped the exception older releases made for it (CUDA sections
  // gave no VRAM).
  if (it.GPU.VRAM < need.gpuVRAM) return 'GPU VRAM';
  if (need.gpus > 0 && versionInsufficient(it.GPU.DriverVersion, gpu?.driver_version ?? '')) return 'GPU driver version';
  if (need.gpus > 0 && hardwareInsufficient(stack, gpu?.hardware_target ?? [], it.GPU.HardwareTarget)) return 'GPU hardware target';
  return undefined;
}

/**
 * Cheaper first; at equal price the bigger type first (more RAM, then more
 * VCPUs, then more scratch), then by name so the order never varies.
 */
export function compareInstanceTypes(a: InstanceType, b: InstanceType): number {
  if (a.Price !== b.Price) return a.Price - b.Price;
  if (a.RAM !== b.RAM) return b.RAM - a.RAM;
  if (a.VCPUs !== b.VCPUs) return b.VCPUs - a.VCPUs;
  if (a.Scratch !== b.Scratch) return b.Scratch - a.Scratch;
  return compareCodeUnits(a.Name, b.Name);
}

/**
 * The types that can run the container, cheapest first, keeping only those
 * within max(MaximumPriceFactor, 1) times the cheapest's price: the
 * scheduler may then pick a dearer type that is already idle or that the
 * cloud has in stock. Throws `NoInstanceTypesError` when none is configured,
 * `ConstraintsNotSatisfiableError` when none fits (or the GPU stack asked for
 * is neither "", "cuda" nor "rocm").
 */
export function chooseInstanceTypes(cluster: Cluster, container: Container): InstanceType[] {
  const all = Object.values(cluster.InstanceTypes);
  if (all.length === 0) throw new NoInstanceTypesError();
  const stack = container.runtime_constraints.gpu?.stack ?? '';
  if (stack !== '' && stack !== 'cuda' && stack !== 'rocm') {
    throw new ConstraintsNotSatisfiableError(`Invalid GPU stack "${stack}", expected to be blank or one of 'cuda' or 'rocm'`);
  }
  const need = instanceResourcesNeeded(cluster, container);
  const eligible = all.filter((it) => rejectReason(it, need, container) === undefined).sort(compareInstanceTypes);
  if (eligible.length === 0) {
    throw new ConstraintsNotSatisfiableError(undefined, [...all].sort((a, b) => a.Price - b.Price));
  }
  const maxPrice = eligible[0].Price * Math.max(cluster.Containers.MaximumPriceFactor, 1);
  return eligible.filter((it, i) => i === 0 || it.Price <= maxPrice);
}
