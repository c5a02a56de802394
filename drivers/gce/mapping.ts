/**
 * How dispatcher tags live on a GCE instance (README.md, "Tags").
 *
 * Labels are the only thing aggregatedList can filter on, but they allow
 * only `[a-z0-9_-]` up to 63 characters, and our tags (mixed-case keys,
 * instance type names with dots, ResourceTags from config) do not fit. So
 * the whole tag set is kept, exactly, as JSON in one metadata item, and one
 * label carries the InstanceSetID so listing can filter server-side. The
 * label is only a pre-filter: listing re-checks every tag against metadata.
 * ResourceTags that happen to fit label syntax are labels too, for billing
 * (labels.ts).
 */
import { createHash } from 'node:crypto';
import type { InstanceTags } from '../../src/cloud/types.js';

/** The metadata item holding the full tag set as a JSON object. */
export const TAGS_METADATA_KEY = 'arvados-tags';
export const STARTUP_SCRIPT_KEY = 'startup-script';
export const SSH_KEYS_KEY = 'ssh-keys';
/**
 * Set to `FALSE` beside our key: with OS Login on for the project, the guest
 * ignores `ssh-keys`, and instance metadata overrides project metadata.
 */
export const OS_LOGIN_KEY = 'enable-oslogin';

const LABEL_MAX = 63;

/** GCE's label syntax (ASCII part): a key starts with a lowercase letter; both are `[a-z0-9_-]`, at most 63 characters; a value may be empty. */
export const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
export const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

/**
 * A label key for a tag key: lowercased, other characters as `_`, starting
 * with a letter (`ArvadosInstanceSetID` -> `arvadosinstancesetid`).
 */
export function labelKey(tagKey: string): string {
  let k = tagKey.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  if (!/^[a-z]/.test(k)) k = `t${k}`;
  return k.slice(0, LABEL_MAX);
}

/**
 * A label value for a tag value: the value itself when it already fits
 * (lowercase, allowed characters, <= 63), else `h-` and 40 hex digits of its
 * SHA-256, so distinct values keep distinct labels (case included).
 */
export function labelValue(tagValue: string): string {
  if (LABEL_VALUE.test(tagValue) && !tagValue.startsWith('h-')) return tagValue;
  return `h-${createHash('sha256').update(tagValue).digest('hex').slice(0, 40)}`;
}

/** The filter expression aggregatedList takes for one label. */
export function labelFilter(tagKey: string, tagValue: string): string {
  return `labels.${labelKey(tagKey)} = "${labelValue(tagValue)}"`;
}

export function encodeTags(tags: InstanceTags): string {
  return JSON.stringify(tags);
}

/** The tags stored in metadata; `{}` when the item is missing or not ours (then no tag filter matches). */
export function decodeTags(value: string | null | undefined): InstanceTags {
  if (!value) return {};
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    const out: InstanceTags = {};
    for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
    return out;
  } catch {
    return {};
  }
}

export interface MetadataItem {
  key?: string | null;
  value?: string | null;
}

/** `items` with `key` set to `value` (replaced in place if present, else appended). */
export function withItem(items: readonly MetadataItem[], key: string, value: string): MetadataItem[] {
  const out = items.filter((i) => i.key !== key).map((i) => ({ key: i.key, value: i.value }));
  out.push({ key, value });
  return out;
}

export function itemValue(items: readonly MetadataItem[] | null | undefined, key: string): string | undefined {
  return items?.find((i) => i.key === key)?.value ?? undefined;
}

/** The last path segment of a GCE resource URL (`.../zones/us-central1-a` -> `us-central1-a`). */
export function shortName(url: string | null | undefined): string {
  if (!url) return '';
  return url.slice(url.lastIndexOf('/') + 1);
}
