/**
 * The lame cloud driver: an in-memory cloud whose VMs are real SSH servers
 * on 127.0.0.1 (or, with `Transport: inprocess`, handlers called directly)
 * that emulate what the dispatcher runs on a worker: the boot probe, the
 * instance secret, runner deployment and crunch-run, which reports container
 * progress to the controller over its real HTTP API. It exists for tests,
 * the demo and the simulator; README.md beside this file lists its
 * parameters.
 *
 * `src/drivers.ts` registers it under LAME_DRIVER_NAME.
 */
import type { DriverCheck, DriverFactory } from '../../src/cloud/types.js';
import { lameCloudFor } from './clouds.js';
import { LameInstanceSet } from './instance-set.js';
import { parseLameParams } from './params.js';
import { RemoteLameInstanceSet } from './remote.js';

/** The name under `Containers.CloudVMs.Driver`. */
export const LAME_DRIVER_NAME = 'lame';

/**
 * Builds a lame instance set from DriverParameters (validated; errors name
 * the parameter). Calls with the same cloud name (CloudName, default the
 * InstanceSetID) share one cloud: its VMs and tags outlive any instance set.
 * With CloudURL set, the cloud is a `lame-cloud` process elsewhere and the
 * instance set is its HTTP client; the other parameters are that process's.
 */
export const lameDriver: DriverFactory = (params, ctx) => {
  const parsed = parseLameParams(params);
  if (parsed.CloudURL !== undefined) return new RemoteLameInstanceSet(parsed.CloudURL, ctx);
  return new LameInstanceSet(lameCloudFor(parsed, ctx), ctx);
};

/** check-config's check: the parameters as `lameDriver` reads them. */
export const lameCheck: DriverCheck = async (params) => {
  parseLameParams(params);
};

export { type CallCounts, type DetachEvent, LameCloud } from './cloud.js';
export { dropLameCloud, getLameCloud, lameClouds, resetLameClouds } from './clouds.js';
export { type CrunchRunProcess, type ProcessPhase, runPlan } from './crunch-run.js';
export { InProcessExecutor } from './inprocess.js';
export { LameInstance, LameInstanceSet } from './instance-set.js';
export { DEFAULT_PARAMS, type LameParams, LameParamsError, type LameTransport, parseDuration, parseLameParams } from './params.js';
export { LameVM } from './vm.js';
export { LameCloudAdmin } from './chaos-client.js';
export { API_PREFIX, type WireCreateRequest, type WireError, type WireErrorClass, type WireInstance, type WireProcess, type WireVM } from './protocol.js';
export { DEFAULT_REMOTE_RETRY, LameCloudUnreachableError, RemoteLameInstance, RemoteLameInstanceSet, type RemoteRetryPolicy } from './remote.js';
export {
  LameCloudConfigError,
  LameCloudListenError,
  type LameCloudServer,
  type LameCloudServerOptions,
  lameCloudServerParams,
  startLameCloudServer,
} from './server.js';
