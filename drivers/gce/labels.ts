/**
 * ResourceTags (`Containers.CloudVMs.ResourceTags`) as GCE labels, for
 * billing: Cloud Billing exports show labels, never metadata. Best effort:
 * the `arvados-tags` metadata item stays the source of truth, and a tag is
 * labelled only when it already fits label syntax once its key is
 * lowercased. Hashing or rewriting the others would give labels nobody can
 * read in a bill, so they are skipped (and logged once, at debug).
 *
 * The wrapper merges ResourceTags into the tags of every create, the
 * dispatcher's own tags winning; the driver tells them apart by the
 * cluster config: a tag is a ResourceTag when ResourceTags has its key with
 * the same value. A ResourceTag whose key starts with TagKeyPrefix is left
 * to metadata, since that prefix marks the dispatcher's own tags.
 */
import type { InstanceTags } from '../../src/cloud/types.js';
import { compareCodeUnits } from '../../src/compare.js';
import { LABEL_KEY, LABEL_VALUE } from './mapping.js';

/** GCE takes at most this many labels on a resource. */
export const MAX_LABELS = 64;

/** One ResourceTag that can be a label: the label it becomes, and the tag it must still match at create. */
interface LabelEntry {
  labelKey: string;
  tagKey: string;
  value: string;
}

/** What becomes of the cluster's ResourceTags, decided once (they are fixed for the dispatcher's life). */
export interface ResourceLabelPlan {
  entries: readonly LabelEntry[];
  /** ResourceTag keys that will not be labels, sorted, each with why. */
  skipped: ReadonlyArray<{ key: string; why: string }>;
}

/**
 * Which ResourceTags become labels. `reserved` are label keys the driver
 * sets itself (the InstanceSetID label's): never taken nor replaced. Keys
 * that lowercase to the same label are all skipped, and at most
 * `MAX_LABELS - reserved.size` are kept (in key order), so no label is
 * ambiguous and GCE never refuses the insert for them.
 */
export function planResourceLabels(resourceTags: Readonly<Record<string, string>>, tagKeyPrefix: string, reserved: ReadonlySet<string>): ResourceLabelPlan {
  const skipped: Array<{ key: string; why: string }> = [];
  const fitting: LabelEntry[] = [];
  for (const key of Object.keys(resourceTags).sort()) {
    const value = resourceTags[key];
    const labelKey = key.toLowerCase();
    if (tagKeyPrefix !== '' && key.startsWith(tagKeyPrefix)) skipped.push({ key, why: 'has the TagKeyPrefix' });
    else if (!LABEL_KEY.test(labelKey)) skipped.push({ key, why: 'key does not fit label syntax' });
    else if (!LABEL_VALUE.test(value)) skipped.push({ key, why: 'value does not fit label syntax' });
    else if (reserved.has(labelKey)) skipped.push({ key, why: 'label key is the driver\'s own' });
    else fitting.push({ labelKey, tagKey: key, value });
  }
  const count = new Map<string, number>();
  for (const e of fitting) count.set(e.labelKey, (count.get(e.labelKey) ?? 0) + 1);
  const entries: LabelEntry[] = [];
  const room = MAX_LABELS - reserved.size;
  for (const e of fitting) {
    if ((count.get(e.labelKey) ?? 0) > 1) skipped.push({ key: e.tagKey, why: `another ResourceTag is also label ${e.labelKey}` });
    else if (entries.length >= room) skipped.push({ key: e.tagKey, why: `more than ${MAX_LABELS} labels` });
    else entries.push(e);
  }
  skipped.sort((a, b) => compareCodeUnits(a.key, b.key));
  return { entries, skipped };
}

/** The labels for a create with `tags`: each planned ResourceTag the tags still carry with its configured value. */
export function resourceLabelsFor(plan: ResourceLabelPlan, tags: InstanceTags): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of plan.entries) if (tags[e.tagKey] === e.value) out[e.labelKey] = e.value;
  return out;
}
