/**
 * A config with three mistakes at once (a bad duration, a misspelled
 * CloudVMs key, an instance type without RAM): the loader must report all
 * of them, and check-config must print them.
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
