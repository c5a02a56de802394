/**
 * The part every whole-daemon run's config (tests and benchmarks) starts with: one cluster, its root
 * token and controller, and the management API on a free loopback port
 * (the daemon refuses to start without a local InternalURL, as the
 * reference does). The rest of the cluster's sections follow at 4 spaces.
 */
export function daemonConfigHead(o: { rootToken: string; controllerURL: string; managementToken?: string }): string {
  return `Clusters:
  zzzzz:
    SystemRootToken: ${o.rootToken}
${o.managementToken === undefined ? '' : `    ManagementToken: ${o.managementToken}\n`}    Services:
      Controller:
        ExternalURL: ${o.controllerURL}
      DispatchCloud:
        InternalURLs:
          "http://127.0.0.1:0": {}
`;
}
