/**
 * Which GCE quota a quota error is about, and whether running over it stops
 * every create or only those of the instance types that count against it.
 *
 * Most Compute Engine vCPU quotas are per machine family (`N2_CPUS`,
 * `C3_CPUS`, ...), GPU quotas are per GPU model (`NVIDIA_T4_GPUS`), and Spot
 * VMs have their own (`PREEMPTIBLE_CPUS`, `PREEMPTIBLE_NVIDIA_T4_GPUS`): a
 * type of another family, without GPUs, or on-demand may still be created,
 * so such an error is a CapacityError for that quota group, as the ec2
 * driver treats VcpuLimitExceeded. Which types share a group is not knowable
 * before GCE says so (families have their own quota or count against
 * `CPUS` depending on the project), so the driver has no
 * `InstanceSet.quotaGroup`: the pool learns a type's group from its error.
 * Local SSDs have a regional quota of their own (`LOCAL_SSD_TOTAL_GB`, one
 * of the Quota.Metric values in compute.proto) that only types with local
 * SSDs (a `LocalSSDs` entry, an `-lssd` machine type) use: a group too.
 * The other quotas an insert can run over (`CPUS`, `CPUS_ALL_REGIONS`,
 * `INSTANCES`, `IN_USE_ADDRESSES`, `SSD_TOTAL_GB`, `DISKS_TOTAL_GB`, ...) are
 * shared by every type and stay a QuotaError, as does a quota error that
 * names no metric at all.
 */

/**
 * Where GCE names the quota: an operation error's
 * `errorDetails[].quotaInfo.metricName` (`compute.googleapis.com/n2_cpus`),
 * and the message of both forms: "Quota 'N2_CPUS' exceeded.  Limit: 24.0 in region us-central1."
 */
const MESSAGE_METRIC = /Quota '([A-Za-z0-9_]+)' exceeded/g;

/** `compute.googleapis.com/n2_cpus` and `N2_CPUS` -> `N2_CPUS`: one name whichever form reported it. */
export function normalizeMetric(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1).toUpperCase();
}

/**
 * The quota metrics named by `details` (the `errorDetails` entries of the
 * error's items) and `messages` (its message texts), normalised, each once,
 * in the order found (details first).
 */
export function quotaMetrics(details: readonly unknown[], messages: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of details) {
    const info = (d as { quotaInfo?: { metricName?: unknown } } | null)?.quotaInfo;
    if (typeof info?.metricName === 'string' && info.metricName !== '') out.push(normalizeMetric(info.metricName));
  }
  for (const m of messages) for (const match of m.matchAll(MESSAGE_METRIC)) out.push(normalizeMetric(match[1]));
  return [...new Set(out)];
}

/**
 * True for a quota only some instance types count against: a machine
 * family's vCPUs (`N2_CPUS`, `C2D_CPUS`, `E2_CPUS`; not `CPUS` or
 * `CPUS_ALL_REGIONS`, which every type uses), a GPU model's
 * (`NVIDIA_T4_GPUS`, `NVIDIA_L4_VWS_GPUS`), GPUs in all regions (only GPU
 * types count), local SSD space (`LOCAL_SSD_TOTAL_GB`), and every Spot
 * quota (`PREEMPTIBLE_*`). Hyperdisk capacity quotas would be groups too
 * (only the families and `DiskTypes` that use Hyperdisk count), but their
 * metric names are not in compute.proto's Quota.Metric and were not
 * confirmed from Google's pages, so they stay shared quotas for now.
 */
export function isGroupQuota(metric: string): boolean {
  if (metric.startsWith('PREEMPTIBLE_')) return true;
  if (metric === 'LOCAL_SSD_TOTAL_GB') return true;
  if (metric.endsWith('_GPUS') || metric === 'GPUS_ALL_REGIONS') return true;
  return metric.endsWith('_CPUS');
}

/**
 * The quota group a quota error is about, or undefined when it should stop
 * every create: it names no metric, or any metric it names is shared by
 * every type. The group is the metric's name (`N2_CPUS`).
 */
export function quotaGroupOf(metrics: readonly string[]): string | undefined {
  if (metrics.length === 0 || !metrics.every(isGroupQuota)) return undefined;
  return metrics[0];
}
