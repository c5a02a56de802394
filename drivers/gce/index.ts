/**
 * The gce cloud driver (`Containers.CloudVMs.Driver: gce`), built on
 * `@google-cloud/compute` 6.x. README.md beside this file lists its
 * parameters and how tags map onto labels and metadata.
 */
import type { DriverFactory } from '../../src/cloud/types.js';
import { machineFamily } from './body.js';
import { GceInstanceSet } from './driver.js';
import { parseGceParams } from './params.js';

export const GCE_DRIVER_NAME = 'gce';

/**
 * Builds a gce instance set from DriverParameters (validated before the SDK
 * is loaded, so a config error shows at once; GuestAccelerators must name
 * the cluster's instance types). Unknown parameter names are logged once as
 * a warning.
 */
export const gceDriver: DriverFactory = async (raw, ctx) => {
  const { params, unknown } = parseGceParams(raw, Object.keys(ctx.cluster.InstanceTypes));
  if (unknown.length > 0) {
    // Names only: an unknown parameter may be another driver's secret.
    ctx.logger.warn('ignoring DriverParameters the gce driver does not use', { Parameters: unknown });
  }
  // A misspelt family (`n4 `, `N4`, `c4-standard`) is refused by the parser; one no type is of may be a typo too.
  const families = new Set(Object.values(ctx.cluster.InstanceTypes).map((t) => machineFamily(t.ProviderType)));
  const unused = Object.keys(params.DiskTypes).filter((f) => !families.has(f)).sort();
  if (unused.length > 0) ctx.logger.warn('DiskTypes names machine families no instance type is of', { Families: unused });
  // Loaded here, not at the top: the SDK takes ~2 s to import.
  const { buildClients } = await import('./client.js');
  return new GceInstanceSet(params, ctx, { clients: await buildClients(params) });
};

export {
  buildInstanceBody, canLiveMigrate, diskTypeFor, guestAcceleratorFor, HYPERDISK_DEFAULT, HYPERDISK_ONLY_FAMILIES, imagePath, labelsFor, machineFamily, regionOf,
  type GceInstanceRecord,
} from './body.js';
export { type GceDriverOptions, GceInstanceSet } from './driver.js';
export {
  classify,
  errorDetails,
  GceOperationError,
  httpStatus,
  isNotFound,
  isNotReady,
  isPreconditionFailed,
  isQuota,
  isThrottle,
  isTransient,
  isZoneCapacity,
  isZoneUnsupported,
  messages,
  type OperationErrorItem,
  quotaMetricsOf,
  reasons,
} from './errors.js';
export { GceInstance } from './instance.js';
export { isGroupQuota, normalizeMetric, quotaGroupOf, quotaMetrics } from './quota.js';
export { decodeTags, encodeTags, labelFilter, labelKey, labelValue, OS_LOGIN_KEY, SSH_KEYS_KEY, STARTUP_SCRIPT_KEY, TAGS_METADATA_KEY } from './mapping.js';
export { DEFAULT_GCE_PARAMS, type GceGuestAccelerator, type GceParams, GceParamsError, parseGceParams, type ParsedGceParams } from './params.js';
