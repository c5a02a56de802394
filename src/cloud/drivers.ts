/**
 * The drivers this build knows, by their `Containers.CloudVMs.Driver` name.
 * Each is imported only when configured.
 */
import { registerDriver } from './registry.js';

registerDriver('lame', async () => (await import('../../drivers/lame/index.js')).lameDriver);
registerDriver('ec2', async () => (await import('../../drivers/ec2/index.js')).ec2Driver);
registerDriver('gce', async () => (await import('../../drivers/gce/index.js')).gceDriver);
