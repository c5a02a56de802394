/**
 * A config with three mistakes at once: a bad duration (an error, as for
 * Arvados), a misspelled CloudVMs key and an instance type without RAM
 * (warnings, as Arvados starts with them). The loader must report all of
 * them, and check-config must print them.
 */
export const BAD_CONFIG = `
Clusters:
  zzzzz:
    Containers:
      CloudVMs:
        TimeoutIdle: 1 minute
        TimeoutIdel: 1m
    InstanceTypes:
      foo:
        VCPUs: 2
`;
