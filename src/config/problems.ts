/**
 * Where a config problem is (a YAML path, written as check-config prints it)
 * and the collector of every problem one document has, errors and warnings
 * apart, each line `full.yaml.path: what was expected`, after the file and
 * line where the path is written when it is.
 */

/** A location in the YAML document, one key per element. */
export type Path = readonly string[];

/**
 * `Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle`. A key that would blur
 * the path or the message after it (empty, blank at either end, holding a
 * line break or another control character, or ": ") is written quoted, as
 * JSON: `Clusters.zzzzz.InstanceTypes." m5".VCPUs`.
 */
export function showPath(path: Path): string {
  return path.map((key) => (PLAIN_KEY.test(key) && !key.includes(': ') ? key : quoteKey(key))).join('.');
}

/** A key shown as it is: printable, no line or paragraph separator, not blank at either end, not starting with a quote. */
const PLAIN_KEY = /^[^\s"\p{C}\p{Zl}\p{Zp}](?:[^\p{C}\p{Zl}\p{Zp}]*[^\s\p{C}])?$/u;

/** JSON's quoting, plus the two line separators JSON leaves as they are. */
function quoteKey(key: string): string {
  return JSON.stringify(key).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** What reading one config document found wrong (errors) or worth saying (warnings). */
export class Problems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  /** Every path an error or a warning was about, as `showPath` writes it. */
  private readonly said = new Set<string>();

  /**
   * `where` says where a path is written (`config.yml: line 12`), put
   * before the path of each line about it; a path it cannot place (a
   * missing key) is shown alone.
   */
  constructor(private readonly where: (path: Path) => string | undefined = () => undefined) {}

  error(path: Path, message: string): void {
    this.errors.push(this.line(path, message));
  }

  warn(path: Path, message: string): void {
    this.warnings.push(this.line(path, message));
  }

  /** True when an error or a warning was about `path` already. */
  mentions(path: Path): boolean {
    return this.said.has(showPath(path));
  }

  private line(path: Path, message: string): string {
    const shown = showPath(path);
    this.said.add(shown);
    const at = this.where(path);
    return at === undefined ? `${shown}: ${message}` : `${at}: ${shown}: ${message}`;
  }
}
