/**
 * Compiles `InstanceTypes`: the menu of VM types the scheduler chooses from,
 * including the `<name>.preemptible` variants Arvados generates when
 * `Containers.PreemptiblePriceFactor` is set.
 */
import type { GPUFeatures, InstanceType } from './types.js';
import { isMap, readMap, readSection, warnReferenceRefuses, type Path, type ReadContext } from './fields.js';
import { GPU_FIELDS, INSTANCE_TYPE_FIELDS } from './schema.js';
import { withoutFloatNoise } from './units.js';
import { parseVersion } from './versions.js';

/** Suffix of the generated preemptible variants' names. */
export const PREEMPTIBLE_SUFFIX = '.preemptible';

/** GPU software stacks a container may ask for (any other is refused by the scheduler). */
const GPU_STACKS = ['cuda', 'rocm'];

/**
 * Reads `InstanceTypes` (a map keyed by name; also, with a warning, the
 * list form older configs used, each entry carrying its `Name`, which
 * Arvados now refuses)
 * and adds preemptible variants. Problems go to `ctx.problems`; entries
 * with errors are still returned, with defaults in place of the bad values,
 * so one pass reports everything.
 */
export function compileInstanceTypes(
  ctx: ReadContext,
  raw: unknown,
  path: Path,
  preemptiblePriceFactor: number,
): Record<string, InstanceType> {
  const types: Record<string, InstanceType> = {};
  if (Array.isArray(raw)) {
    warnReferenceRefuses(ctx, path, 'InstanceTypes must be a mapping keyed by type name, not the old list form');
    raw.forEach((entry, i) => {
      const entryPath = [...path, String(i)];
      const name = isMap(entry) && typeof entry.Name === 'string' ? entry.Name : '';
      if (name === '') {
        ctx.problems.error([...entryPath, 'Name'], 'required in the list form of InstanceTypes');
        return;
      }
      if (name in types) {
        ctx.problems.error([...entryPath, 'Name'], `duplicate instance type name ${JSON.stringify(name)}`);
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

/**
 * One type. As in Arvados, Scratch is IncludedScratch + AddedScratch (a
 * `Scratch` key is ignored, with a warning from the unknown-key check), and a
 * type without VCPUs or RAM is kept but fits no container.
 */
function compileInstanceType(ctx: ReadContext, name: string, raw: unknown, path: Path): InstanceType | undefined {
  const map = readMap(ctx, raw, path);
  if (!map) return undefined;
  const f = readSection(ctx, map, path, INSTANCE_TYPE_FIELDS);
  // A value refused already (`VCPUs: 2.5`) reads as 0 here: its error says enough.
  const vcpus = [...path, 'VCPUs'];
  const ram = [...path, 'RAM'];
  if (f.VCPUs <= 0 && !ctx.problems.mentions(vcpus)) ctx.problems.warn(vcpus, `${describeMissing(map.VCPUs, f.VCPUs)}: no container fits this type (give the number of virtual CPUs)`);
  if (f.RAM <= 0 && !ctx.problems.mentions(ram)) ctx.problems.warn(ram, `${describeMissing(map.RAM, f.RAM)}: no container fits this type (give the memory size, e.g. "16GiB")`);
  return {
    Name: name,
    ProviderType: f.ProviderType || name,
    VCPUs: f.VCPUs,
    RAM: f.RAM,
    Scratch: f.IncludedScratch + f.AddedScratch,
    IncludedScratch: f.IncludedScratch,
    AddedScratch: f.AddedScratch,
    Price: f.Price,
    Preemptible: f.Preemptible,
    GPU: compileGPU(ctx, map.GPU, [...path, 'GPU']),
  };
}

/** "absent" or "is 0" (or the negative number), for a warning about a missing size. */
function describeMissing(raw: unknown, value: number): string {
  return raw === undefined || raw === null ? 'absent' : `is ${value}`;
}

/**
 * The GPU section. Arvados refuses only a type with GPUs whose
 * DriverVersion is not a number; what else would make the GPUs (or the
 * whole type) unusable is a warning.
 */
function compileGPU(ctx: ReadContext, raw: unknown, path: Path): GPUFeatures {
  const gpu = readSection(ctx, readMap(ctx, raw, path) ?? {}, path, GPU_FIELDS);
  if (gpu.Stack !== '' && !GPU_STACKS.includes(gpu.Stack)) {
    ctx.problems.warn([...path, 'Stack'], `expected "cuda" or "rocm", got ${JSON.stringify(gpu.Stack)}: no container can run on this type`);
  }
  // Arvados checks the version of any type whose DeviceCount is not 0, a negative one too.
  if (gpu.DeviceCount !== 0 && parseVersion(gpu.DriverVersion) === undefined) {
    ctx.problems.error([...path, 'DriverVersion'], `expected a version like "12.4" (a number, as Arvados reads it), got ${JSON.stringify(gpu.DriverVersion)}`);
  }
  if (gpu.DeviceCount > 0) {
    if (gpu.Stack === '') ctx.problems.warn([...path, 'Stack'], 'empty, so no container can use the GPUs of this type (expected "cuda" or "rocm")');
    if (gpu.Stack === 'cuda' && parseVersion(gpu.HardwareTarget) === undefined) {
      ctx.problems.warn(
        [...path, 'HardwareTarget'],
        `expected a CUDA compute capability like "9.0", got ${JSON.stringify(gpu.HardwareTarget)}: containers that ask for a minimum capability will not run on this type`,
      );
    }
    if (gpu.VRAM === 0) ctx.problems.warn([...path, 'VRAM'], 'not given: containers that ask for GPU memory will not run on this type');
  }
  return gpu;
}

/**
 * Adds, for every non-preemptible type, a preemptible copy named
 * `<name>.preemptible` priced at Price x factor, with the same ProviderType.
 * As in Arvados, a configured type that already has that name wins (with a
 * warning) unless it is identical to the variant. Prices are compared as
 * check-config writes them (`withoutFloatNoise`), so the variant it writes
 * out (0.4 x 0.2 as 0.08) loads back as itself.
 */
function addPreemptibleVariants(ctx: ReadContext, types: Record<string, InstanceType>, path: Path, factor: number): void {
  const comparable = (t: InstanceType): string => JSON.stringify({ ...t, Price: withoutFloatNoise(t.Price) });
  for (const [name, it] of Object.entries(types)) {
    if (it.Preemptible) continue;
    const variant: InstanceType = { ...it, GPU: { ...it.GPU }, Name: name + PREEMPTIBLE_SUFFIX, Preemptible: true, Price: it.Price * factor };
    const existing = types[variant.Name];
    if (existing && comparable(existing) !== comparable(variant)) {
      ctx.problems.warn([...path, variant.Name], `already exists, so not automatically adding a preemptible variant of ${name}`);
      continue;
    }
    types[variant.Name] = variant;
  }
}
