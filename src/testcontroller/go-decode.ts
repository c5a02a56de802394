/**
 * The Arvados controller does not pass the API server's JSON through: it
 * decodes each container record into its Go type and encodes it again. A
 * record that does not fit that type (an old one with a mount field of the
 * wrong JSON type, e.g. Arvados issue 21314) is not sent: the answer is a
 * 500 whose text is Go's decoding error, even when a change the request
 * made was already saved. This is that check, for `mounts`, the field such
 * records are known to break.
 */

/** A mount's fields and the Go type each decodes into. */
const MOUNT_FIELDS: Readonly<Record<string, 'string' | 'bool' | 'int64'>> = {
  kind: 'string',
  writable: 'bool',
  portable_data_hash: 'string',
  uuid: 'string',
  device_type: 'string',
  path: 'string',
  exclude_from_output: 'bool',
  capacity: 'int64',
};

/** How Go's encoding/json names a JSON value's type in its errors. */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number
}

function fits(v: unknown, type: 'string' | 'bool' | 'int64'): boolean {
  if (v === null) return true;
  if (type === 'string') return typeof v === 'string';
  if (type === 'bool') return typeof v === 'boolean';
  return typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= 2 ** 63;
}

/** Go's error for `mounts` that do not decode into the controller's type, or undefined if they do. */
export function mountsDecodeError(mounts: unknown): string | undefined {
  if (mounts === null || mounts === undefined) return undefined;
  if (typeof mounts !== 'object' || Array.isArray(mounts)) {
    return `json: cannot unmarshal ${jsonKind(mounts)} into Go struct field Container.mounts of type map[string]arvados.Mount`;
  }
  for (const m of Object.values(mounts as Record<string, unknown>)) {
    if (m === null) continue;
    if (typeof m !== 'object' || Array.isArray(m)) return `json: cannot unmarshal ${jsonKind(m)} into Go struct field Container.mounts of type arvados.Mount`;
    for (const [field, type] of Object.entries(MOUNT_FIELDS)) {
      const v = (m as Record<string, unknown>)[field];
      if (v !== undefined && !fits(v, type)) {
        const what = type === 'int64' && typeof v === 'number' ? `number ${String(v)}` : jsonKind(v);
        return `json: cannot unmarshal ${what} into Go struct field Mount.mounts.${field} of type ${type}`;
      }
    }
  }
  return undefined;
}
