/**
 * The drivers this build ships, registered by their `Containers.CloudVMs.Driver`
 * name. This is wiring, not contract: `src/cloud/` defines what a driver is
 * and knows none of them. Each driver is imported only when it is configured
 * (the GCE SDK alone takes about 2 s to load), so importing this module is
 * cheap. Every entry point that builds an instance set from a config imports
 * it: the dispatcher (daemon, demo, tests), cloudtest, and check-config
 * (which runs each driver's check of its parameters).
 */
import { registerDriver } from './cloud/registry.js';

registerDriver(
  'lame',
  async () => (await import('../drivers/lame/index.js')).lameDriver,
  async () => (await import('../drivers/lame/index.js')).lameCheck,
);
registerDriver(
  'ec2',
  async () => (await import('../drivers/ec2/index.js')).ec2Driver,
  async () => (await import('../drivers/ec2/index.js')).ec2Check,
);
registerDriver(
  'gce',
  async () => (await import('../drivers/gce/index.js')).gceDriver,
  async () => (await import('../drivers/gce/index.js')).gceCheck,
);
registerDriver(
  'loopback',
  async () => (await import('../drivers/loopback/index.js')).loopbackDriver,
  async () => (await import('../drivers/loopback/index.js')).loopbackCheck,
);
