/**
 * `InstanceTypes` under the loopback driver, whose one instance is this
 * host, as the reference's loader settles them: none configured means one
 * implicit type, `localhost`, sized like this host (CPUs this process may
 * use, total RAM, the size of the temp directory's filesystem as scratch,
 * price 1); more than one is an error, since the host can only be one of
 * them. Only when `CloudVMs.Enable` is true, as in the reference.
 */
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { statfsSync } from 'node:fs';
import type { CloudVMsConfig } from './types.js';
import { isMap, type Path, type ReadContext } from './fields.js';

/** The name (and provider type) of the implicit type. */
export const LOOPBACK_TYPE_NAME = 'localhost';

/** The InstanceTypes value to compile: `raw` itself, or the implicit type when the loopback driver has none. */
export function loopbackInstanceTypes(ctx: ReadContext, cloudVMs: CloudVMsConfig, raw: unknown, path: Path): unknown {
  if (!cloudVMs.Enable || cloudVMs.Driver !== 'loopback') return raw;
  const count = Array.isArray(raw) ? raw.length : isMap(raw) ? Object.keys(raw).length : 0;
  if (count > 1) {
    ctx.problems.error(path, 'cannot use multiple InstanceTypes with loopback driver');
    return raw;
  }
  if (count === 1) return raw;
  const scratch = tempFilesystemSize();
  return {
    [LOOPBACK_TYPE_NAME]: {
      ProviderType: LOOPBACK_TYPE_NAME,
      VCPUs: availableParallelism(),
      RAM: totalmem(),
      IncludedScratch: scratch,
      Scratch: scratch,
      Price: 1.0,
    },
  };
}

function tempFilesystemSize(): number {
  const fs = statfsSync(tmpdir());
  return fs.blocks * fs.bsize;
}
