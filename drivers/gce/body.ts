/**
 * The instances.insert body for one create: everything the VM needs goes in
 * this one call (labels, tags, network tags, startup script, SSH key), so there is never a
 * window in which a VM exists untagged and unowned.
 */
import type { protos } from '@google-cloud/compute';
import type { InstanceTags } from '../../src/cloud/types.js';
import { PREEMPTIBLE_SUFFIX } from '../../src/config/instance-types.js';
import type { InstanceType } from '../../src/config/types.js';
import { encodeTags, labelKey, labelValue, OS_LOGIN_KEY, SSH_KEYS_KEY, STARTUP_SCRIPT_KEY, TAGS_METADATA_KEY } from './mapping.js';
import { DEFAULT_GCE_PARAMS, type GceGuestAccelerator, type GceLocalSSDs, type GceParams } from './params.js';

export type GceInstanceRecord = protos.google.cloud.compute.v1.IInstance;

export interface BodyInput {
  params: GceParams;
  zone: string;
  name: string;
  type: InstanceType;
  imageId: string;
  tags: InstanceTags;
  initCommand: string;
  publicKey: string;
  /** The tag key playing the InstanceSetID role (`<TagKeyPrefix>InstanceSetID`), mirrored as a label. */
  setTagKey: string;
  /** ResourceTags that fit label syntax (labels.ts), labelled for billing on the VM and its disks; default none. */
  resourceLabels?: Record<string, string>;
}

/** `us-central1-a` -> `us-central1`. */
export const regionOf = (zone: string): string => zone.replace(/-[^-]+$/, '');

/**
 * ImageID as `initializeParams.sourceImage`. GCE takes an image or image
 * family as a path (`projects/P/global/images/NAME`, `.../images/family/F`),
 * its https URL, or a path in the instance's project (`global/images/...`),
 * and answers anything else, `family/F` included, with 400 "The URL is
 * malformed". Short forms mean our project: `NAME`, `family/F` and
 * `global/images/...` are written out under `projects/<project>/`, so the
 * body names the image the same way whatever the operator wrote. Full paths,
 * URLs and whatever else has a `/` are sent as written (GCE's error then
 * quotes the operator's own text).
 */
export function imagePath(project: string, imageId: string): string {
  if (imageId.startsWith('global/images/')) return `projects/${project}/${imageId}`;
  if (!imageId.includes('/') || /^family\/[^/]+$/.test(imageId)) return `projects/${project}/global/images/${imageId}`;
  return imageId;
}

/** The labels of an instance with `tags`: just the InstanceSetID one (README.md, "Tags"). */
export function labelsFor(tags: InstanceTags, setTagKey: string): Record<string, string> {
  const v = tags[setTagKey];
  return v === undefined ? {} : { [labelKey(setTagKey)]: labelValue(v) };
}

/**
 * Accelerator-optimized machine families: their types come with GPUs built
 * in (`a2-highgpu-1g`, `a3-megagpu-8g`, `a4x-highgpu-4g`, `g2-standard-8`, `g4-standard-48`).
 */
const GPU_FAMILIES: ReadonlySet<string> = new Set(['a2', 'a3', 'a4', 'a4x', 'g2', 'g4']);

/** Families Google cannot live-migrate for reasons other than GPUs (H4D); bare-metal types end in `-metal`. */
const NO_MIGRATION_FAMILIES: ReadonlySet<string> = new Set(['h4d']);

/** `g2-standard-8` -> `g2`. */
export const machineFamily = (providerType: string): string => providerType.split('-')[0].toLowerCase();

/**
 * Machine series that take only Hyperdisk: Google's machine series pages say
 * of each "doesn't support Persistent Disk" (C4, C4A, C4D, N4, N4A, N4D), so
 * a pd-* disk fails every insert with 400 "[pd-balanced, n4-standard-4]
 * features are not compatible for creating instance.". Other series may be
 * Hyperdisk-only too (X4, M4, H4D, ...): DiskTypes covers those.
 */
export const HYPERDISK_ONLY_FAMILIES: ReadonlySet<string> = new Set(['c4', 'c4a', 'c4d', 'n4', 'n4a', 'n4d']);

/** What a Hyperdisk-only family gets while DiskType is left at its default: the Hyperdisk counterpart of pd-balanced. */
export const HYPERDISK_DEFAULT = 'hyperdisk-balanced';

/**
 * The disk type of the boot and scratch disks of a VM of `providerType`:
 * its family's DiskTypes entry, else DiskType, except that while DiskType is
 * the default pd-balanced, which a Hyperdisk-only family cannot take, such a
 * family gets hyperdisk-balanced. Another DiskType the operator chose is
 * never swapped for one they did not.
 */
export function diskTypeFor(params: GceParams, providerType: string): string {
  const family = machineFamily(providerType);
  if (Object.hasOwn(params.DiskTypes, family)) return params.DiskTypes[family];
  if (params.DiskType === DEFAULT_GCE_PARAMS.DiskType && HYPERDISK_ONLY_FAMILIES.has(family)) return HYPERDISK_DEFAULT;
  return params.DiskType;
}

/**
 * The smallest persistent disk GCE creates of a type, in GB: 10 for zonal
 * standard, balanced and SSD Persistent Disk ("Minimum capacity per disk",
 * https://cloud.google.com/compute/docs/disks). A smaller size fails every
 * insert with a 400, in every zone alike. pd-extreme and the Hyperdisk
 * types have minimums too, but they were not confirmed from Google's pages
 * here, so their size is sent as asked (GCE's 400 says what it takes).
 */
export const MIN_DISK_GB: Readonly<Record<string, number>> = { 'pd-standard': 10, 'pd-balanced': 10, 'pd-ssd': 10 };

/**
 * The size in GB of the scratch disk of a VM of `type` (0: none): its
 * AddedScratch rounded up to a whole GB, and at least its disk type's
 * minimum, since asking for less than that would fail every create of the
 * type. The start-up check (index.ts) names the types whose disk is bigger
 * than asked.
 */
export function scratchDiskGB(params: GceParams, type: InstanceType): number {
  if (type.AddedScratch <= 0) return 0;
  const asked = Math.ceil(type.AddedScratch / 2 ** 30);
  return Math.max(asked, MIN_DISK_GB[diskTypeFor(params, type.ProviderType)] ?? 0);
}

/**
 * The entry of a per-type parameter (GuestAccelerators, LocalSSDs) for
 * `type`: the one under its name, or, for a generated `.preemptible` variant
 * without one of its own, its base type's.
 */
function entryFor<T>(byName: Record<string, T>, type: InstanceType): T | undefined {
  const own = Object.hasOwn(byName, type.Name) ? byName[type.Name] : undefined;
  if (own !== undefined || !type.Preemptible || !type.Name.endsWith(PREEMPTIBLE_SUFFIX)) return own;
  const base = type.Name.slice(0, -PREEMPTIBLE_SUFFIX.length);
  return Object.hasOwn(byName, base) ? byName[base] : undefined;
}

/** The GuestAccelerators entry for `type` (see entryFor). */
export function guestAcceleratorFor(params: GceParams, type: InstanceType): GceGuestAccelerator | undefined {
  return entryFor(params.GuestAccelerators, type);
}

/** The LocalSSDs entry for `type` (see entryFor). */
export function localSSDsFor(params: GceParams, type: InstanceType): GceLocalSSDs | undefined {
  return entryFor(params.LocalSSDs, type);
}

/** An `-lssd` machine type (C3, C3D, C4, ... with local SSD), whose local SSDs GCE attaches without being asked. */
export const comesWithLocalSSDs = (providerType: string): boolean => /-lssd$/.test(providerType);

/**
 * Whether GCE can live-migrate a VM of `type` during host maintenance. It
 * cannot when the VM has GPUs (the type says so, its family has them built
 * in, or we attach some) or is of a series Google only stops: asking for
 * MIGRATE then fails every insert with 400 "Instances with guest
 * accelerators do not support live migration."
 */
export function canLiveMigrate(type: InstanceType, accelerator: GceGuestAccelerator | undefined): boolean {
  const family = machineFamily(type.ProviderType);
  if (type.GPU.DeviceCount > 0 || accelerator !== undefined || GPU_FAMILIES.has(family)) return false;
  return !NO_MIGRATION_FAMILIES.has(family) && !type.ProviderType.endsWith('-metal');
}

function schedulingFor(type: InstanceType, accelerator: GceGuestAccelerator | undefined): NonNullable<GceInstanceRecord['scheduling']> {
  if (type.Preemptible) {
    // SPOT VMs cannot restart on maintenance; DELETE (not STOP) so a preempted VM stops costing disk money and leaves the list.
    return { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', automaticRestart: false, onHostMaintenance: 'TERMINATE' };
  }
  // MIGRATE is also what GCE assumes when the field is absent, so a VM that cannot migrate must say TERMINATE.
  // It is stopped for host maintenance and started again; the pool sees a worker that lost its containers.
  return { provisioningModel: 'STANDARD', automaticRestart: true, onHostMaintenance: canLiveMigrate(type, accelerator) ? 'MIGRATE' : 'TERMINATE' };
}

export function buildInstanceBody(input: BodyInput): GceInstanceRecord {
  const { params, zone, name, type } = input;
  // The InstanceSetID label last: nothing may replace it (labels.ts keeps ResourceTags off its key anyway).
  const labels = { ...input.resourceLabels, ...labelsFor(input.tags, input.setTagKey) };
  const accelerator = guestAcceleratorFor(params, type);
  const diskType = `zones/${zone}/diskTypes/${diskTypeFor(params, type.ProviderType)}`;
  const script = input.initCommand.startsWith('#!') ? input.initCommand : `#!/bin/sh\n${input.initCommand}\n`;
  const items = [
    { key: TAGS_METADATA_KEY, value: encodeTags(input.tags) },
    { key: STARTUP_SCRIPT_KEY, value: script },
  ];
  const key = input.publicKey.trim();
  if (key !== '') {
    items.push({ key: SSH_KEYS_KEY, value: `${params.AdminUsername}:${key}` });
    // A project with OS Login on would have the guest ignore the key, and every boot probe fail until TimeoutBooting.
    items.push({ key: OS_LOGIN_KEY, value: 'FALSE' });
  }

  const disks: NonNullable<GceInstanceRecord['disks']> = [
    {
      boot: true,
      autoDelete: true,
      type: 'PERSISTENT',
      initializeParams: {
        sourceImage: imagePath(params.Project, input.imageId),
        diskType,
        // Disks are billed apart from the VM: they need the labels too.
        labels,
        ...(params.DiskSizeGB > 0 ? { diskSizeGb: String(params.DiskSizeGB) } : {}),
      },
    },
  ];
  const scratchGB = scratchDiskGB(params, type);
  if (scratchGB > 0) {
    disks.push({
      boot: false,
      // Scratch is per-VM: it must not outlive the VM (and keep costing money).
      autoDelete: true,
      type: 'PERSISTENT',
      deviceName: 'scratch',
      initializeParams: { diskType, diskSizeGb: String(scratchGB), labels },
    });
  }

  const ssds = comesWithLocalSSDs(type.ProviderType) ? undefined : localSSDsFor(params, type);
  for (let i = 0; ssds !== undefined && i < ssds.Count; i++) {
    disks.push({
      boot: false,
      // Local SSDs live and die with the VM whatever this says; GCE wants it said.
      autoDelete: true,
      type: 'SCRATCH',
      interface: ssds.Interface,
      deviceName: `local-ssd-${i}`,
      initializeParams: { diskType: `zones/${zone}/diskTypes/local-ssd` },
    });
  }

  const nic: NonNullable<GceInstanceRecord['networkInterfaces']>[number] = {
    // Workers are reached on their internal IP; an external one only widens the attack surface.
    accessConfigs: params.ExternalIP ? [{ type: 'ONE_TO_ONE_NAT', name: 'External NAT' }] : [],
  };
  if (params.Network !== '') nic.network = params.Network.includes('/') ? params.Network : `global/networks/${params.Network}`;
  else if (params.Subnetwork === '') nic.network = 'global/networks/default';
  if (params.Subnetwork !== '') {
    nic.subnetwork = params.Subnetwork.includes('/') ? params.Subnetwork : `regions/${regionOf(zone)}/subnetworks/${params.Subnetwork}`;
  }

  const body: GceInstanceRecord = {
    name,
    machineType: `zones/${zone}/machineTypes/${type.ProviderType}`,
    labels,
    metadata: { items },
    disks,
    networkInterfaces: [nic],
    scheduling: schedulingFor(type, accelerator),
  };
  if (accelerator !== undefined) {
    body.guestAccelerators = [
      {
        acceleratorType: `zones/${zone}/acceleratorTypes/${accelerator.AcceleratorType}`,
        acceleratorCount: accelerator.Count ?? Math.max(1, type.GPU.DeviceCount),
      },
    ];
  }
  // What firewall rules target (`targetTags`), e.g. to let the dispatcher reach port 22.
  if (params.NetworkTags.length > 0) body.tags = { items: [...params.NetworkTags] };
  if (params.ServiceAccountEmail !== '') body.serviceAccounts = [{ email: params.ServiceAccountEmail, scopes: [...params.Scopes] }];
  return body;
}
