/**
 * The gce cloud driver (`Containers.CloudVMs.Driver: gce`), built on
 * `@google-cloud/compute` 6.x. README.md beside this file lists its
 * parameters and how tags map onto labels and metadata.
 */
import { warnUnusedParams } from '../../src/cloud/params.js';
import type { DriverCheck, DriverContext, DriverFactory } from '../../src/cloud/types.js';
import { comesWithLocalSSDs, diskTypeFor, localSSDsFor, machineFamily, scratchDiskGB } from './body.js';
import { GceInstanceSet } from './driver.js';
import { GCE_PARAM_NAMES, type GceParams, LOCAL_SSD_BYTES, parseGceParams } from './params.js';
import type { InstanceType } from '../../src/config/types.js';
import type { Logger } from '../../src/log.js';

export const GCE_DRIVER_NAME = 'gce';

/**
 * Builds a gce instance set from DriverParameters (validated before the SDK
 * is loaded, so a config error shows at once; GuestAccelerators must name
 * the cluster's instance types). Unknown parameter names are logged once as
 * a warning.
 */
export const gceDriver: DriverFactory = async (raw, ctx) => {
  const params = gceParams(raw, ctx);
  // Loaded here, not at the top: the SDK takes ~2 s to import.
  const { buildClients } = await import('./client.js');
  return new GceInstanceSet(params, ctx, { clients: await buildClients(params, { logger: ctx.logger }) });
};

/** check-config's check: the parameters as `gceDriver` reads them, and its warnings about them. */
export const gceCheck: DriverCheck = async (raw, ctx) => {
  gceParams(raw, ctx);
};

function gceParams(raw: Record<string, unknown>, ctx: Pick<DriverContext, 'cluster' | 'logger'>): GceParams {
  const { params, unknown } = parseGceParams(raw, Object.keys(ctx.cluster.InstanceTypes));
  warnUnusedParams(ctx.logger, 'ignoring DriverParameters the gce driver does not use', raw, unknown, GCE_PARAM_NAMES);
  // A misspelt family (`n4 `, `N4`, `c4-standard`) is refused by the parser; one no type is of may be a typo too.
  const families = new Set(Object.values(ctx.cluster.InstanceTypes).map((t) => machineFamily(t.ProviderType)));
  const unused = Object.keys(params.DiskTypes).filter((f) => !families.has(f)).sort();
  if (unused.length > 0) ctx.logger.warn('DiskTypes names machine families no instance type is of', { Families: unused });
  checkLocalSSDs(params, ctx.cluster.InstanceTypes, ctx.logger);
  checkScratchDisks(params, ctx.cluster.InstanceTypes, ctx.logger);
  if (params.ServiceAccountEmail === 'default') {
    // Any process on a worker, user containers included, can fetch the VM's token from the metadata server (README, ServiceAccountEmail).
    ctx.logger.warn('workers run as the Compute Engine default service account: every container can use its credentials; give them a dedicated account with only what crunch-run needs, or none', {
      ServiceAccountEmail: params.ServiceAccountEmail,
      Scopes: params.Scopes,
    });
  }
  return params;
}

/**
 * Warns about a LocalSSDs entry for a type that comes with its own (an
 * `-lssd` machine type; the entry is not used), and when a type's
 * IncludedScratch, the scratch space containers are placed by, does not
 * match its local SSDs.
 */
function checkLocalSSDs(params: GceParams, types: Record<string, InstanceType>, logger: Logger): void {
  for (const type of Object.values(types)) {
    const ssds = localSSDsFor(params, type);
    if (ssds === undefined) continue;
    if (comesWithLocalSSDs(type.ProviderType)) {
      logger.warn('LocalSSDs entry ignored: this machine type comes with its local SSDs, which GCE attaches itself', { InstanceType: type.Name, ProviderType: type.ProviderType });
      continue;
    }
    const bytes = ssds.Count * LOCAL_SSD_BYTES;
    if (type.IncludedScratch === 0) {
      logger.warn('local SSDs are attached but not counted as scratch: set the instance type\'s IncludedScratch to their size, so containers that need scratch space get this type', {
        InstanceType: type.Name,
        LocalSSDs: ssds.Count,
        Bytes: bytes,
      });
    } else if (type.IncludedScratch > bytes) {
      logger.warn('IncludedScratch is more than the local SSDs hold: containers placed by it may run out of scratch space', {
        InstanceType: type.Name,
        IncludedScratch: type.IncludedScratch,
        LocalSSDs: ssds.Count,
        Bytes: bytes,
      });
    }
  }
}

/**
 * Says once which instance types get a scratch disk bigger than their
 * AddedScratch, because their disk type has a minimum size (body.ts
 * `scratchDiskGB`): they cost that much more than the config suggests.
 */
function checkScratchDisks(params: GceParams, types: Record<string, InstanceType>, logger: Logger): void {
  for (const type of Object.values(types)) {
    const asked = Math.ceil(type.AddedScratch / 2 ** 30);
    const gb = scratchDiskGB(params, type);
    if (gb <= asked) continue;
    logger.info('scratch disk raised to its disk type\'s minimum size', {
      InstanceType: type.Name,
      DiskType: diskTypeFor(params, type.ProviderType),
      AddedScratch: type.AddedScratch,
      DiskSizeGB: gb,
    });
  }
}

export {
  buildInstanceBody, canLiveMigrate, diskTypeFor, guestAcceleratorFor, localSSDsFor, HYPERDISK_DEFAULT, HYPERDISK_ONLY_FAMILIES, imagePath, labelsFor, machineFamily, MIN_DISK_GB, regionOf,
  scratchDiskGB,
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
export { DEFAULT_GCE_PARAMS, type GceGuestAccelerator, type GceLocalSSDs, type GceParams, GceParamsError, LOCAL_SSD_BYTES, parseGceParams, type ParsedGceParams } from './params.js';
