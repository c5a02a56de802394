/**
 * The environment variables Arvados services were configured with before
 * the cluster config file, which the reference still reads as a fallback
 * (lib/config/deprecated.go, for every service): an empty SystemRootToken
 * takes `ARVADOS_API_TOKEN`; a controller ExternalURL with no host takes
 * `https://$ARVADOS_API_HOST`, and then `ARVADOS_API_HOST_INSECURE` (anything
 * but "" and "0") sets TLS.Insecure. Each fallback is a warning. The service
 * command then warns about any of them set but not used (lib/service/cmd.go).
 *
 * The environment is passed in (the daemon and check-config pass the
 * process's), so loading stays a function of its inputs.
 */
import type { Cluster } from './types.js';
import type { Path, ReadContext } from './fields.js';

/** An environment (`process.env`, or a test's); only ARVADOS_API_TOKEN, ARVADOS_API_HOST and ARVADOS_API_HOST_INSECURE are read here (and ARVADOS_NODE_PROFILE by node-profiles.ts). */
export type LegacyEnv = Readonly<Record<string, string | undefined>>;

/** The values the fallback may fill in. */
export interface LegacyValues {
  SystemRootToken: string;
  ExternalURL: string;
  Insecure: boolean;
}

/** Why the reference has the fallback at all, for the warnings. */
const OLD_WAY = 'an old way to configure Arvados services: set it in the config file';

/**
 * `values` with the fallbacks applied, each with a warning at the key it
 * fills in; an `ARVADOS_API_HOST` that makes no URL is an error there.
 */
export function applyLegacyEnv(ctx: ReadContext, cluster: Path, values: LegacyValues, env: LegacyEnv): LegacyValues {
  const out = { ...values };
  const token = env.ARVADOS_API_TOKEN ?? '';
  if (token !== '' && out.SystemRootToken === '') {
    ctx.problems.warn([...cluster, 'SystemRootToken'], `empty, so taken from the ARVADOS_API_TOKEN environment variable (${OLD_WAY})`);
    out.SystemRootToken = token;
  }
  const apiHost = env.ARVADOS_API_HOST ?? '';
  if (apiHost !== '' && urlHost(out.ExternalURL) === '') {
    const path = [...cluster, 'Services', 'Controller', 'ExternalURL'];
    const url = `https://${apiHost}`;
    if (!parsesWithHost(url)) {
      ctx.problems.error(path, `${out.ExternalURL === '' ? 'empty' : 'has no host'}, and the ARVADOS_API_HOST environment variable (${JSON.stringify(apiHost)}) is not a host[:port]`);
      return out;
    }
    const insecure = env.ARVADOS_API_HOST_INSECURE ?? '';
    const alsoInsecure = insecure !== '' && insecure !== '0';
    const also = alsoInsecure ? ', and TLS.Insecure from ARVADOS_API_HOST_INSECURE' : '';
    ctx.problems.warn(path, `${out.ExternalURL === '' ? 'empty' : 'has no host'}, so taken from the ARVADOS_API_HOST environment variable: ${url}${also} (${OLD_WAY})`);
    out.ExternalURL = url;
    if (alsoInsecure) out.Insecure = true;
  }
  return out;
}

/**
 * Warnings, as the reference's service command gives them, for each variable
 * that is set but differs from what the daemon runs with, so that an
 * operator who expects it to override the config file hears that it does not.
 */
export function unusedLegacyEnvWarnings(cluster: Cluster, env: LegacyEnv): string[] {
  const warnings: string[] = [];
  const unused = (name: string): string => `${name} environment variable is present, but will not be used`;
  const host = env.ARVADOS_API_HOST ?? '';
  if (host !== '' && host !== urlHost(cluster.Services.Controller.ExternalURL)) warnings.push(unused('ARVADOS_API_HOST'));
  const insecure = env.ARVADOS_API_HOST_INSECURE ?? '';
  if (insecure !== '' && (insecure !== '0') !== cluster.TLS.Insecure) warnings.push(unused('ARVADOS_API_HOST_INSECURE'));
  const token = env.ARVADOS_API_TOKEN ?? '';
  if (token !== '' && token !== cluster.SystemRootToken) warnings.push(unused('ARVADOS_API_TOKEN'));
  return warnings;
}

/**
 * The host[:port] of a URL as Go's url.Parse finds it (the reference's
 * `URL.Host`): what follows `//` after an optional scheme, up to the path,
 * without user info; "" when there is none. Unlike WHATWG URLs it keeps a
 * default port and the case as written.
 */
export function urlHost(text: string): string {
  const m = /^(?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/([^/?#]*)/.exec(text);
  if (!m) return '';
  return m[1].slice(m[1].lastIndexOf('@') + 1);
}

function parsesWithHost(url: string): boolean {
  try {
    return new URL(url).hostname !== '';
  } catch {
    return false;
  }
}
