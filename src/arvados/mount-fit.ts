/**
 * Whether a container's `mounts` fit the Go type the controller and the
 * reference decode them into (`map[string]arvados.Mount`, each field of its
 * Go type). Said once, for the queue's own check of what it reads
 * (`src/queue/details.ts`) and for the test controller's emulation of the
 * controller's 500 on a record that does not fit (`src/testcontroller/go-decode.ts`);
 * each words what it finds its own way.
 */
import { isInt64 } from './types.js';

/** The Go types a mount's fields decode into. */
export type MountGoType = 'string' | 'bool' | 'int64';

/** A mount's fields and the Go type each decodes into (null fits any of them). */
const MOUNT_FIELD_TYPES: Readonly<Record<string, MountGoType>> = {
  kind: 'string',
  writable: 'bool',
  portable_data_hash: 'string',
  uuid: 'string',
  device_type: 'string',
  path: 'string',
  exclude_from_output: 'bool',
  capacity: 'int64',
};

/** The first place `mounts` do not fit: the whole value, one mount, or one field of one mount. */
export type MountMisfit =
  | { at: 'mounts'; value: unknown }
  | { at: 'mount'; path: string; value: unknown }
  | { at: 'field'; path: string; field: string; type: MountGoType; value: unknown };

function fits(v: unknown, type: MountGoType): boolean {
  if (type === 'string') return typeof v === 'string';
  if (type === 'bool') return typeof v === 'boolean';
  return isInt64(v);
}

/** Where `mounts` first fail to fit their Go type, or undefined if they fit (absent or null mounts fit). */
export function mountMisfit(mounts: unknown): MountMisfit | undefined {
  if (mounts === null || mounts === undefined) return undefined;
  if (typeof mounts !== 'object' || Array.isArray(mounts)) return { at: 'mounts', value: mounts };
  for (const [path, m] of Object.entries(mounts as Record<string, unknown>)) {
    if (m === null) continue;
    if (typeof m !== 'object' || Array.isArray(m)) return { at: 'mount', path, value: m };
    for (const [field, type] of Object.entries(MOUNT_FIELD_TYPES)) {
      const value = (m as Record<string, unknown>)[field];
      if (value !== null && value !== undefined && !fits(value, type)) return { at: 'field', path, field, type, value };
    }
  }
  return undefined;
}
