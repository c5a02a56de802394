/**
 * The workload fields locality is measured with: a container's image
 * (`image`, `imageSize`) and input collections (`inputs`), for traces and
 * generators, and how the simulated controller's records carry them
 * (`container_image` and `collection` mounts, whose PDHs encode the sizes
 * the lame cloud's cost model reads: see drivers/lame/disk-cache.ts).
 */
import { createHash } from 'node:crypto';
import type { Random } from '../../drivers/lame/random.js';
import type { Mount } from '../arvados/types.js';
import { arr, fail, join, obj, quantity, weightedChoice } from './workload-fields.js';

/** A container image: a name the workload gives it, and its size in bytes. */
export interface SimImage {
  id: string;
  bytes: number;
}

/** An input collection: a name the workload gives it (`pdh`), and its size in bytes. */
export interface SimInput {
  pdh: string;
  bytes: number;
}

/** The locality fields of one container (both optional). */
export interface SimLocality {
  image?: SimImage;
  inputs?: SimInput[];
}

const BLOCK = 64 * 1024 ** 2;
const SIZE = { unit: 'size', min: 0 } as const;

/**
 * A portable data hash for content called `name` of `bytes` bytes: the md5
 * of the name, and as size hint the length a manifest of that many 64 MiB
 * blocks would have (80 bytes plus 42 per block), which is how the dispatcher
 * estimates an image's size from its PDH.
 */
export function simPDH(name: string, bytes: number): string {
  const blocks = Math.ceil(bytes / BLOCK);
  const md5 = createHash('md5').update(name).digest('hex');
  return `${md5}+${blocks === 0 ? 0 : 80 + 42 * blocks}`;
}

/** The controller record fields for `c`'s image and inputs (none when it has neither). */
export function localityRecord(c: SimLocality): { container_image?: string; mounts: Record<string, Mount> } {
  const mounts: Record<string, Mount> = {};
  (c.inputs ?? []).forEach((input, i) => {
    mounts[`/keep/input${i}`] = { kind: 'collection', portable_data_hash: simPDH(input.pdh, input.bytes) };
  });
  return c.image ? { container_image: simPDH(c.image.id, c.image.bytes), mounts } : { mounts };
}

/** A trace container's `image` (a name) and `imageSize` (a size, default 0). */
export function traceImage(o: Record<string, unknown>, path: string): SimImage | undefined {
  if (o.image === undefined) {
    if (o.imageSize !== undefined) fail(join(path, 'imageSize'), 'needs an "image"');
    return undefined;
  }
  if (typeof o.image !== 'string' || o.image === '') fail(join(path, 'image'), 'must be a non-empty string');
  return { id: o.image, bytes: o.imageSize === undefined ? 0 : quantity(o.imageSize, join(path, 'imageSize'), SIZE) };
}

/** `[{"pdh": NAME, "size": SIZE}, ...]`. */
export function parseInputs(v: unknown, path: string): SimInput[] {
  return arr(v, path).map((item, i) => {
    const p = join(path, i);
    const o = obj(item, p, ['pdh', 'size']);
    if (typeof o.pdh !== 'string' || o.pdh === '') fail(join(p, 'pdh'), 'must be a non-empty string');
    if (o.size === undefined) fail(join(p, 'size'), 'required');
    return { pdh: o.pdh, bytes: quantity(o.size, join(p, 'size'), SIZE) };
  });
}

/** `{"id": NAME, "size": SIZE}`. */
function parseImageObject(v: unknown, path: string): SimImage {
  const o = obj(v, path, ['id', 'size']);
  return traceImage({ image: o.id, imageSize: o.size }, path)!;
}

/** A generator field: one value, or `{"choice": [[value, weight], ...]}` drawn per container. */
function compileChoice<T>(v: unknown, path: string, one: (v: unknown, path: string) => T, isOne: (v: unknown) => boolean): (rnd: Random) => T {
  if (isOne(v)) {
    const c = one(v, path);
    return () => c;
  }
  const o = obj(v, path, ['choice']);
  return weightedChoice(o.choice, join(path, 'choice'), one);
}

/** Draws a generated container's locality fields (no draw for a field the group leaves out). */
export type LocalityDraw = (rnd: Random, parent: SimLocality | undefined) => SimLocality;

/**
 * Compiles a group's `image` (`{"id", "size"}` or a choice of them) and
 * `inputs` (a list, or a choice of lists). A child group without `image`
 * takes its runner's: a workflow's stages reuse the workflow's image.
 */
export function compileLocality(o: Record<string, unknown>, path: string): LocalityDraw {
  const image = o.image === undefined ? undefined : compileChoice(o.image, join(path, 'image'), parseImageObject, (v) => typeof v === 'object' && v !== null && 'id' in v);
  const inputs = o.inputs === undefined ? undefined : compileChoice(o.inputs, join(path, 'inputs'), parseInputs, Array.isArray);
  return (rnd, parent) => {
    const out: SimLocality = {};
    const img = image ? image(rnd) : parent?.image;
    if (img) out.image = img;
    if (inputs) out.inputs = inputs(rnd);
    return out;
  };
}
