/**
 * Where this daemon's own settings file is, kept apart from the loader so
 * that the command line can name the default without loading the YAML
 * machinery (`settings.ts` re-exports both names).
 */

/** Read when it exists; its absence means every setting has its default. */
export const DEFAULT_SETTINGS_PATH = '/etc/arvados/dispatch-cloud.yml';

/** Names another settings file, as `--settings` does; a file named this way must exist. */
export const SETTINGS_PATH_ENV = 'ARVADOS_DISPATCH_CLOUD_SETTINGS';
