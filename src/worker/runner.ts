/**
 * The dispatcher's side of starting crunch-run on a worker: the config JSON
 * it writes on `crunch-run --detach --stdin-config` (built from the cluster
 * config and the instance), and where a deployed runner binary lives. The
 * command lines themselves, which the VM's end parses too, are in
 * `../arvados/crunch-run.ts`.
 */
import { createHmac } from 'node:crypto';
import { instanceTypeJSON, workerClusterJSON } from '../arvados/cluster-json/cluster.js';
import { goEscapeHTML, goObject, goString } from '../arvados/cluster-json/go-json.js';
import type { Cluster, InstanceType } from '../config/types.js';

/**
 * The `GatewayAuthSecret` crunch-run is given for a container: the hex
 * HMAC-SHA256 of the container UUID keyed with the SystemRootToken, as the
 * reference computes it (the controller derives the same value to
 * authenticate to the container gateway).
 */
export function gatewayAuthSecret(systemRootToken: string, uuid: string): string {
  return createHmac('sha256', systemRootToken).update(uuid).digest('hex');
}

/**
 * The value crunch-run gets as ARVADOS_API_HOST. The reference passes the
 * controller's host[:port] and crunch-run always speaks https. An http
 * ExternalURL (test controllers, the demo) is passed whole, scheme included,
 * so crunch-run (the lame cloud's one, at least) can reach it: a value
 * containing `://` is a base URL.
 */
export function apiHostFor(controllerURL: string): string {
  const url = new URL(controllerURL);
  return url.protocol === 'https:' ? url.host : url.origin;
}

/** `host` of an address `host`, `host:port`, `[v6]:port` or a bare IPv6 address, joined with port 0. */
function gatewayAddress(address: string): string {
  let host = address;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) host = bracketed[1];
  else if ((address.match(/:/g) ?? []).length === 1) host = address.slice(0, address.indexOf(':'));
  return host.includes(':') ? `[${host}]:0` : `${host}:0`;
}

export interface CrunchRunConfigOptions {
  cluster: Cluster;
  instanceType: InstanceType;
  /** The instance's address (`Instance.address`); its host part becomes the gateway address. */
  instanceAddress: string;
  uuid: string;
}

/**
 * The JSON written to `crunch-run --detach --stdin-config` (the
 * `CrunchRunConfig` of ../arvados/crunch-run.ts), built as the reference's
 * newRemoteRunner builds it and written as its Go encoder writes it: API host
 * and token (the SystemRootToken), the instance type as indented JSON (for
 * crunch-run's logs and cost), the gateway address and secret,
 * ARVADOS_API_HOST_INSECURE=1 with TLS.Insecure; KeepBuffers =
 * LocalKeepBlobBuffersPerVCPU x VCPUs and, with it, the whole cluster config,
 * which crunch-run needs to start the container's local keepstore (without
 * it, it starts none), less the dispatcher's own SSH key and cloud
 * credentials (`workerClusterJSON`); EC2SpotCheck for preemptible types on
 * the ec2 driver.
 *
 * It holds the cluster's secrets (tokens, database password, keys): it goes
 * to the VM on stdin and must never be logged.
 */
export function crunchRunConfigJSON(opts: CrunchRunConfigOptions): string {
  const { cluster, instanceType } = opts;
  const env: Record<string, string> = {
    ARVADOS_API_HOST: apiHostFor(cluster.Services.Controller.ExternalURL),
    ARVADOS_API_TOKEN: cluster.SystemRootToken,
    InstanceType: instanceTypeJSON(instanceType),
    GatewayAddress: gatewayAddress(opts.instanceAddress),
    GatewayAuthSecret: gatewayAuthSecret(cluster.SystemRootToken, opts.uuid),
  };
  if (cluster.TLS.Insecure) env.ARVADOS_API_HOST_INSECURE = '1';
  const perVCPU = cluster.Containers.LocalKeepBlobBuffersPerVCPU;
  const spotCheck = cluster.Containers.CloudVMs.Driver === 'ec2' && instanceType.Preemptible;
  const fields = [
    `"Env":${goObject(Object.entries(env).map(([k, v]) => [k, goString(v)]))}`,
    `"KeepBuffers":${perVCPU > 0 ? perVCPU * instanceType.VCPUs : 0}`,
    `"EC2SpotCheck":${spotCheck}`,
    `"Cluster":${perVCPU > 0 ? workerClusterJSON(cluster) : 'null'}`,
  ];
  return goEscapeHTML(`{${fields.join(',')}}`);
}

// ---------------------------------------------------------------- runner deployment

/**
 * Where a deployed runner lives: `DIR/crunch-run~<md5hex>`. The hash in the
 * name means a VM can hold several versions, and a file with the right name
 * and the right md5sum needs no copy.
 */
export function deployedRunnerPath(deployRunnerDirectory: string, md5hex: string): string {
  // Trailing slashes dropped: the root directory ('/') becomes '', which the join below makes '/crunch-run~...'.
  return `${deployRunnerDirectory.replace(/\/+$/, '')}/crunch-run~${md5hex}`;
}

