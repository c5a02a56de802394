/**
 * Config pieces for whole-daemon runs (the end-to-end tests and the
 * benchmarks).
 */
import { indent } from './processes.js';

/**
 * The part every whole-daemon run's config starts with: one cluster, its
 * root token and controller, and the management API on a free loopback
 * port (the daemon refuses to start without a local InternalURL, as the
 * reference does). The rest of the cluster's sections follow at 4 spaces.
 */
export function daemonConfigHead(o: { rootToken: string; controllerURL: string; managementToken?: string; websocketURL?: string }): string {
  return `Clusters:
  zzzzz:
    SystemRootToken: ${o.rootToken}
${o.managementToken === undefined ? '' : `    ManagementToken: ${o.managementToken}\n`}    Services:
      Controller:
        ExternalURL: ${o.controllerURL}
${o.websocketURL === undefined ? '' : `      Websocket:\n        ExternalURL: ${o.websocketURL}\n`}      DispatchCloud:
        InternalURLs:
          "http://127.0.0.1:0": {}
`;
}

/**
 * The Containers section of a daemon on the lame cloud, down to its
 * CloudVMs' DriverParameters: the dispatch key and the lame cloud's URL.
 * More DriverParameters follow at 10 spaces, the other CloudVMs keys at 8.
 */
export function lameContainersHead(o: { privateKey: string; cloudURL: string }): string {
  return `    Containers:
      DispatchPrivateKey: |
${indent(o.privateKey, 8)}
      StaleLockTimeout: 5s
      CloudVMs:
        Driver: lame
        DriverParameters:
          CloudURL: ${o.cloudURL}
`;
}
