/**
 * `NodeProfiles`, the pre-2.0 way of saying which host runs which service,
 * which the reference's loader still reads (lib/config/deprecated.go): each
 * profile's `arvados-dispatch-cloud.Listen` becomes an entry of
 * `Services.DispatchCloud.InternalURLs`, so a site that never moved to
 * InternalURLs still starts.
 *
 * The rules are the reference's:
 *
 * - A profile named `*`, `$ARVADOS_NODE_PROFILE` or this host's name is this
 *   host, and its host is `localhost`; any other name is taken to be a host
 *   name, with a warning.
 * - A Listen of `:port` gets that host put in front; any other Listen is the
 *   host[:port] itself.
 * - `TLS: true` makes the URL https, else http; the path is `/`.
 * - The URL joins whatever InternalURLs the file has. An entry the file
 *   already has for the same URL is replaced by an empty one (its ListenURL
 *   is dropped), as the reference's map assignment replaces it.
 * - Keys are matched regardless of case (`listen`, `tls`), as the reference's
 *   JSON decoder matches them.
 *
 * The reference takes the Listen of arvados-controller and arvados-api-server
 * too; neither this daemon nor the crunch-run it starts reads those services'
 * InternalURLs, so they are left alone here.
 */
import { hostname as osHostname } from 'node:os';
import { bool, describe, isMap, scalarText, showPath, type Path, type ReadContext } from './fields.js';
import type { LegacyEnv } from './legacy-env.js';
import { sameURL, urlProblem } from './urls.js';

/** A profile's key for this daemon's service. */
const DISPATCH_CLOUD = 'arvados-dispatch-cloud';

export interface NodeProfileOptions {
  /** For ARVADOS_NODE_PROFILE, which names the profile of this host; unset is "". */
  env: LegacyEnv;
  /** This host's name; default os.hostname(), as the reference's os.Hostname(). */
  hostname?: string;
}

/**
 * The cluster's section with each profile's arvados-dispatch-cloud Listen
 * added to Services.DispatchCloud.InternalURLs (the section itself is not
 * changed; one without NodeProfiles is returned as it is). Errors (a
 * profile that is not a map, a Listen that makes no URL) go to `ctx`, as the
 * reference fails to load such a file.
 */
export function applyNodeProfiles(ctx: ReadContext, id: string, raw: Record<string, unknown>, opts: NodeProfileOptions): Record<string, unknown> {
  const added: { url: string; listenPath: Path }[] = [];
  let hostname: string | undefined;
  for (const [profilesKey, profiles] of foldedEntries(raw, 'NodeProfiles')) {
    const profilesPath = ['Clusters', id, profilesKey];
    if (!isMap(profiles)) {
      ctx.problems.error(profilesPath, `expected a map of profile names to profiles, got ${describe(profiles)}`);
      continue;
    }
    for (const [name, profile] of Object.entries(profiles)) {
      const profilePath = [...profilesPath, name];
      if (!isMap(profile)) {
        ctx.problems.error(profilePath, `expected a map of service names to settings, got ${describe(profile)}`);
        continue;
      }
      const service = lastFolded(profile, DISPATCH_CLOUD);
      if (!service) continue;
      const servicePath = [...profilePath, service[0]];
      if (!isMap(service[1])) {
        ctx.problems.error(servicePath, `expected a map with Listen and TLS, got ${describe(service[1])}`);
        continue;
      }
      const settings = readServiceSettings(ctx, service[1], servicePath);
      if (!settings || settings.listen === '') continue;
      hostname ??= opts.hostname ?? osHostname();
      const thisHost = name === '*' || name === (opts.env.ARVADOS_NODE_PROFILE ?? '') || name === hostname;
      const host = settings.listen.startsWith(':') ? `${thisHost ? 'localhost' : name}${settings.listen}` : settings.listen;
      const url = `${settings.tls ? 'https' : 'http'}://${host}/`;
      if (urlProblem(url, ['http:', 'https:']) !== undefined) {
        ctx.problems.error(settings.listenPath, `${JSON.stringify(settings.listen)} with the profile's host makes ${JSON.stringify(url)}, which is not a URL with a host`);
        continue;
      }
      if (!thisHost) {
        const guess = settings.listen.startsWith(':') ? ` (guessing ${JSON.stringify(name)} is a hostname)` : '';
        ctx.problems.warn(profilePath, `overriding ${showPath(['Clusters', id, 'Services', 'DispatchCloud', 'InternalURLs'])} with ${url}${guess}`);
      }
      added.push({ url, listenPath: settings.listenPath });
    }
  }
  if (added.length === 0) return raw;
  return withInternalURLs(ctx, id, raw, added);
}

/** The Listen and TLS of a profile's service, type-checked as the reference's decoder checks them (Insecure too, which it then ignores). */
function readServiceSettings(ctx: ReadContext, service: Record<string, unknown>, path: Path): { listen: string; listenPath: Path; tls: boolean } | undefined {
  const listenEntry = lastFolded(service, 'Listen');
  const listenPath = [...path, listenEntry?.[0] ?? 'Listen'];
  let listen = '';
  if (listenEntry) {
    // The reference decodes these straight into its struct, where a YAML
    // number or boolean fills a string field as written.
    const text = scalarText(ctx, listenEntry[1], listenPath);
    if (text === undefined) {
      ctx.problems.error(listenPath, `expected a host:port or :port, got ${describe(listenEntry[1])}`);
      return undefined;
    }
    listen = text;
  }
  let ok = true;
  const readBool = (key: string): boolean => {
    const entry = lastFolded(service, key);
    if (!entry) return false;
    const value = bool(false).read(ctx, entry[1], [...path, entry[0]]);
    if (value === undefined) ok = false;
    return value ?? false;
  };
  const tls = readBool('TLS');
  readBool('Insecure');
  return ok ? { listen, listenPath, tls } : undefined;
}

/**
 * `raw` with `added` in Services.DispatchCloud.InternalURLs, after the file's
 * entries; a Services, DispatchCloud or InternalURLs that is not a map is left
 * for compileCluster to report, and nothing is added.
 */
function withInternalURLs(ctx: ReadContext, id: string, raw: Record<string, unknown>, added: readonly { url: string; listenPath: Path }[]): Record<string, unknown> {
  const services = raw.Services ?? {};
  if (!isMap(services)) return raw;
  const dispatch = services.DispatchCloud ?? {};
  if (!isMap(dispatch)) return raw;
  const internal = dispatch.InternalURLs ?? {};
  if (!isMap(internal)) return raw;
  const urls: Record<string, unknown> = { ...internal };
  for (const { url, listenPath } of added) {
    for (const [existing, entry] of Object.entries(urls)) {
      if (sameURL(existing, url) && existing !== url) delete urls[existing];
      if (sameURL(existing, url) && isMap(entry) && Object.keys(entry).length > 0) {
        ctx.problems.warn(
          ['Clusters', id, 'Services', 'DispatchCloud', 'InternalURLs', existing],
          `replaced by the empty entry ${url} that ${showPath(listenPath)} makes, so its settings (ListenURL) are not used, as in Arvados`,
        );
      }
    }
    urls[url] = {};
  }
  return { ...raw, Services: { ...services, DispatchCloud: { ...dispatch, InternalURLs: urls } } };
}

/** The entries of `map` whose key is `name` in any case, in file order. */
function foldedEntries(map: Record<string, unknown>, name: string): [string, unknown][] {
  const lower = name.toLowerCase();
  return Object.entries(map).filter(([k]) => k.toLowerCase() === lower);
}

/** The last entry whose key is `name` in any case: a key given twice in different cases fills one field, the later one winning. */
function lastFolded(map: Record<string, unknown>, name: string): [string, unknown] | undefined {
  return foldedEntries(map, name).at(-1);
}


