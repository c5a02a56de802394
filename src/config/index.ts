/**
 * The config module's public face: load a config file into a compiled
 * `Cluster`, and the unit helpers for code that shows durations and sizes.
 */
export type { Cluster, CloudVMsConfig, ContainersConfig, GPUFeatures, InstanceType } from './types.js';
export { ConfigError, daemonConfigProblems, dispatcherConfigErrors, loadConfigFile, loadConfigText, type LoadAttempt, type LoadOptions, type LoadResult, tryLoad } from './load.js';
export { DEFAULT_SETTINGS_PATH, defaultSettings, loadSettingsFile, loadSettingsText, SETTINGS_PATH_ENV, type Settings, type SettingsResult } from './settings.js';
export { clusterForDisplay, clusterToYAML, REDACTED, settingsForDisplay, settingsToYAML } from './dump.js';
export { formatByteSize, formatDuration, parseByteSize, parseDuration } from './units.js';
export { PREEMPTIBLE_SUFFIX } from './instance-types.js';
export { clusterSecrets } from './cluster.js';
