/**
 * Compiles `InstanceTypes`: the menu of VM types the scheduler chooses from,
 * including the `<name>.preemptible` variants Arvados generates when
 * `Containers.PreemptiblePriceFactor` is set.
 */
import type { GPUFeatures, InstanceType } from './types.js';
import { isMap, readMap, readSection, type Path, type ReadContext } from './fields.js';
import { GPU_FIELDS, INSTANCE_TYPE_FIELDS, LEGACY_CUDA_FIELDS } from './schema.js';

/** Suffix of the generated preemptible variants' names. */
export const PREEMPTIBLE_SUFFIX = '.preemptible';

/** Matches a version such as "11.0", "12" or "9.0", compared as numbers by the scheduler. */
const VERSION = /^[0-9]+(\.[0-9]+)*$/;

/**
 * Reads `InstanceTypes` (a map keyed by name, or the list form older configs
 * used, each entry carrying its `Name`) and adds preemptible variants.
 * Problems go to `ctx.problems`; entries with errors are still returned, with
 * defaults in place of the bad values, so one pass reports everything.
 */
export function compileInstanceTypes(
  ctx: ReadContext,
  raw: unknown,
  path: Path,
  preemptiblePriceFactor: number,
): Record<string, InstanceType> {
  const types: Record<string, InstanceType> = {};
  if (Array.isArray(raw)) {
    raw.forEach((entry, i) => {
      const entryPath = [...path, String(i)];
      const name = isMap(entry) && typeof entry.Name === 'string' ? entry.Name : '';
      if (name === '') {
        ctx.problems.error([...entryPath, 'Name'], 'required in the list form of InstanceTypes');
        return;
      }
      if (name in types) {
        ctx.problems.error([...entryPath, 'Name'], `duplicate instance type name "${name}"`);
        return;
      }
      const it = compileInstanceType(ctx, name, entry, entryPath);
      if (it) types[name] = it;
    });
  } else {
    const map = readMap(ctx, raw, path);
    for (const [name, entry] of Object.entries(map ?? {})) {
      const it = compileInstanceType(ctx, name, entry, [...path, name]);
      if (it) types[name] = it;
    }
  }
  if (preemptiblePriceFactor > 0) addPreemptibleVariants(ctx, types, path, preemptiblePriceFactor);
  return types;
}

function compileInstanceType(ctx: ReadContext, name: string, raw: unknown, path: Path): InstanceType | undefined {
  const map = readMap(ctx, raw, path);
  if (!map) return undefined;
  const f = readSection(ctx, map, path, INSTANCE_TYPE_FIELDS, { strict: true, alsoKnown: ['GPU', 'CUDA'] });

  // Absent is an error here (a present but bad value was reported by readSection).
  if (map.VCPUs === undefined || map.VCPUs === null) ctx.problems.error([...path, 'VCPUs'], 'required: the number of virtual CPUs, a whole number > 0');
  if (map.RAM === undefined || map.RAM === null) ctx.problems.error([...path, 'RAM'], 'required: the memory size, e.g. "16GiB"');

  // Scratch is derived from the two parts; a config may also give the total
  // and one part, as Arvados allows, and then the other part is derived.
  let { Scratch, IncludedScratch, AddedScratch } = f;
  if (Scratch === 0) Scratch = IncludedScratch + AddedScratch;
  else if (AddedScratch === 0) AddedScratch = Scratch - IncludedScratch;
  else if (IncludedScratch === 0) IncludedScratch = Scratch - AddedScratch;
  if (Scratch !== IncludedScratch + AddedScratch || IncludedScratch < 0 || AddedScratch < 0) {
    ctx.problems.error([...path, 'Scratch'], `expected Scratch = IncludedScratch + AddedScratch, got ${f.Scratch} != ${f.IncludedScratch} + ${f.AddedScratch}`);
  }

  return {
    Name: name,
    ProviderType: f.ProviderType || name,
    VCPUs: f.VCPUs,
    RAM: f.RAM,
    Scratch,
    IncludedScratch,
    AddedScratch,
    Price: f.Price,
    Preemptible: f.Preemptible,
    GPU: compileGPU(ctx, map, path),
  };
}

function compileGPU(ctx: ReadContext, map: Record<string, unknown>, path: Path): GPUFeatures {
  let gpu: GPUFeatures;
  const gpuPath = [...path, 'GPU'];
  if (map.GPU !== undefined && map.GPU !== null) {
    gpu = readSection(ctx, readMap(ctx, map.GPU, gpuPath) ?? {}, gpuPath, GPU_FIELDS, { strict: true });
    if (map.CUDA !== undefined && map.CUDA !== null) ctx.problems.error([...path, 'CUDA'], 'cannot be used together with GPU: remove CUDA');
  } else if (map.CUDA !== undefined && map.CUDA !== null) {
    const cudaPath = [...path, 'CUDA'];
    const cuda = readSection(ctx, readMap(ctx, map.CUDA, cudaPath) ?? {}, cudaPath, LEGACY_CUDA_FIELDS, { strict: true });
    ctx.problems.warn(cudaPath, 'deprecated: use GPU with Stack: cuda and HardwareTarget instead of HardwareCapability');
    gpu = { Stack: 'cuda', DriverVersion: cuda.DriverVersion, HardwareTarget: cuda.HardwareCapability, DeviceCount: cuda.DeviceCount, VRAM: 0 };
  } else {
    gpu = { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 };
  }
  // Arvados checks these when a type has GPUs: the scheduler compares
  // versions as numbers, and a type with an unusable version would never match.
  if (gpu.DeviceCount > 0) {
    if (gpu.Stack !== 'cuda' && gpu.Stack !== 'rocm') ctx.problems.error([...gpuPath, 'Stack'], `expected "cuda" or "rocm" when DeviceCount > 0, got ${JSON.stringify(gpu.Stack)}`);
    if (!VERSION.test(gpu.DriverVersion)) ctx.problems.error([...gpuPath, 'DriverVersion'], `expected a version like "12.4", got ${JSON.stringify(gpu.DriverVersion)}`);
    if (gpu.Stack === 'cuda' && !VERSION.test(gpu.HardwareTarget)) ctx.problems.error([...gpuPath, 'HardwareTarget'], `expected a CUDA compute capability like "9.0", got ${JSON.stringify(gpu.HardwareTarget)}`);
  }
  return gpu;
}

/**
 * Adds, for every non-preemptible type, a preemptible copy named
 * `<name>.preemptible` priced at Price x factor, with the same ProviderType.
 * As in Arvados, a configured type that already has that name wins (with a
 * warning) unless it is identical to the variant.
 */
function addPreemptibleVariants(ctx: ReadContext, types: Record<string, InstanceType>, path: Path, factor: number): void {
  for (const [name, it] of Object.entries(types)) {
    if (it.Preemptible) continue;
    const variant: InstanceType = { ...it, GPU: { ...it.GPU }, Name: name + PREEMPTIBLE_SUFFIX, Preemptible: true, Price: it.Price * factor };
    const existing = types[variant.Name];
    if (existing && JSON.stringify(existing) !== JSON.stringify(variant)) {
      ctx.problems.warn([...path, variant.Name], `already exists, so not automatically adding a preemptible variant of ${name}`);
      continue;
    }
    types[variant.Name] = variant;
  }
}
