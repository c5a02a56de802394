/**
 * Resource arithmetic for packing several containers onto one instance:
 * what an instance type offers, what is left after each allocation, and
 * whether a container still fits.
 */
import type { InstanceType } from '../config/types.js';
import type { InstanceResources } from './interfaces.js';

/**
 * What a container asking for 0 VCPUs is charged. It must be more than
 * nothing, so that an N-VCPU container never shares an N-VCPU instance even
 * with 0-VCPU ones; a power of two keeps the float sums exact.
 */
export const ZERO_VCPU_SHARE = 1 / 1024;

/** Everything an instance of this type offers. */
export function resourcesOfType(it: InstanceType | undefined): InstanceResources {
  if (!it) return noResources();
  return { vcpus: it.VCPUs, ram: it.RAM, scratch: it.Scratch, gpus: it.GPU.DeviceCount, gpuVRAM: it.GPU.VRAM };
}

/** An instance with nothing to spare (e.g. it runs a container whose size is unknown). */
export function noResources(): InstanceResources {
  return { vcpus: 0, ram: 0, scratch: 0, gpus: 0, gpuVRAM: 0 };
}

/** What a container takes from an instance, with 0 VCPUs charged as a small share. */
export function containerCharge(needed: InstanceResources): InstanceResources {
  return needed.vcpus > 0 ? needed : { ...needed, vcpus: ZERO_VCPU_SHARE };
}

/**
 * What remains after a container's charge is taken. As in the reference,
 * the VRAM a container asks for (per device) is taken from the instance's
 * VRAM (per device) as one pool, so in practice one VRAM-asking container
 * runs per instance, however many devices it has: crunch-run gives every
 * container devices 0..N-1, so a second one would share the first's.
 */
export function minus(available: InstanceResources, charge: InstanceResources): InstanceResources {
  return {
    vcpus: available.vcpus - charge.vcpus,
    ram: available.ram - charge.ram,
    scratch: available.scratch - charge.scratch,
    gpus: available.gpus - charge.gpus,
    gpuVRAM: available.gpuVRAM - charge.gpuVRAM,
  };
}

/** `minus`, in place: for an object the caller has just made and no one else holds (no allocation per container). */
export function take(available: InstanceResources, charge: InstanceResources): void {
  available.vcpus -= charge.vcpus;
  available.ram -= charge.ram;
  available.scratch -= charge.scratch;
  available.gpus -= charge.gpus;
  available.gpuVRAM -= charge.gpuVRAM;
}

/** The two together: an instance's room once a container's charge is given back. */
export function plus(a: InstanceResources, b: InstanceResources): InstanceResources {
  return { vcpus: a.vcpus + b.vcpus, ram: a.ram + b.ram, scratch: a.scratch + b.scratch, gpus: a.gpus + b.gpus, gpuVRAM: a.gpuVRAM + b.gpuVRAM };
}

/** True if the charge fits in what is available. */
export function fits(available: InstanceResources, charge: InstanceResources): boolean {
  return (
    available.vcpus >= charge.vcpus &&
    available.ram >= charge.ram &&
    available.scratch >= charge.scratch &&
    available.gpus >= charge.gpus &&
    available.gpuVRAM >= charge.gpuVRAM
  );
}
