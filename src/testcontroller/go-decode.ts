/**
 * The Arvados controller does not pass the API server's JSON through: it
 * decodes each container record into its Go type and encodes it again. A
 * record that does not fit that type (an old one with a mount field of the
 * wrong JSON type, e.g. Arvados issue 21314) is not sent: the answer is a
 * 500 whose text is Go's decoding error, even when a change the request
 * made was already saved. This is that check, for `mounts`, the field such
 * records are known to break (`src/arvados/mount-fit.ts` says what fits).
 */
import { mountMisfit } from '../arvados/mount-fit.js';

/** How Go's encoding/json names a JSON value's type in its errors. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number
}

/** Go's error for `mounts` that do not decode into the controller's type (`mountMisfit`), or undefined if they do. */
export function mountsDecodeError(mounts: unknown): string | undefined {
  const misfit = mountMisfit(mounts);
  if (misfit === undefined) return undefined;
  if (misfit.at === 'mounts') return `json: cannot unmarshal ${jsonKind(misfit.value)} into Go struct field Container.mounts of type map[string]arvados.Mount`;
  if (misfit.at === 'mount') return `json: cannot unmarshal ${jsonKind(misfit.value)} into Go struct field Container.mounts of type arvados.Mount`;
  const { field, type, value } = misfit;
  const what = type === 'int64' && typeof value === 'number' ? `number ${String(value)}` : jsonKind(value);
  return `json: cannot unmarshal ${what} into Go struct field Mount.mounts.${field} of type ${type}`;
}
