/**
 * Values anywhere in config.yml that the reference refuses for their type,
 * not only in the keys this daemon reads. Every Arvados service decodes the
 * whole file (every cluster, every section) through JSON into its Go
 * structs, so a YAML number where Go has a string (`BlobSigningKey: 123`),
 * a bare number where it has a duration (`Timeout: 30`), or text where it
 * has a number stops every one of them at start, ours excepted. check-config
 * warns about each such value, as it warns about the keys it reads
 * (`warnReferenceRefuses`), so a site can fix it before switching back or
 * before another service reads the file.
 *
 * The Go types come from the table of `arvados.Cluster` the crunch-run
 * encoder walks (src/arvados/cluster-json/schema.ts). Keys the table does
 * not have are the unknown-key warnings' business, not this walk's.
 */
import type { Path, ReadContext } from './fields.js';
import { isMap, quotedForReference, warnReferenceRefuses } from './fields.js';
import { goYAMLNumber } from './go-yaml.js';
import { CLUSTER, type GoField, type GoKind } from '../arvados/cluster-json/schema.js';

/** The words Arvados's YAML library reads as a boolean when unquoted: only for these is "write it unquoted" the fix. */
const GO_YAML_BOOLEAN = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;

/** Warns about every value of every cluster whose type the reference's decoder refuses, once per path. */
export function warnReferenceTypeMismatches(ctx: ReadContext, root: Record<string, unknown>): void {
  const clusters = root.Clusters;
  if (!isMap(clusters)) return;
  // A path this daemon already warned about or refused says so once.
  const report = (path: Path, why: string): void => {
    if (!ctx.problems.mentions(path)) warnReferenceRefuses(ctx, path, why);
  };
  for (const [id, section] of Object.entries(clusters)) check(ctx, CLUSTER, section, ['Clusters', id], report);
}

type Report = (path: Path, why: string) => void;

function kindOf(field: GoField): GoKind {
  return typeof field === 'object' && 'omitempty' in field ? field.kind : (field as GoKind);
}

/** The field of a struct a JSON key fills: the exact name, else one that differs only in case (Go's decoder takes both). */
function fieldFor(fields: Readonly<Record<string, GoField>>, key: string): GoField | undefined {
  if (key in fields) return fields[key];
  const lower = key.toLowerCase();
  const match = Object.keys(fields).find((k) => k.toLowerCase() === lower);
  return match === undefined ? undefined : fields[match];
}

function check(ctx: ReadContext, kind: GoKind, value: unknown, path: Path, report: Report): void {
  // JSON null leaves any Go value as it was: never refused.
  if (value === null || value === undefined) return;
  const text = (): string => ctx.sourceText(path) ?? (typeof value === 'string' ? value : String(value));
  const what = typeof value === 'number' ? 'a YAML number' : typeof value === 'boolean' ? 'a YAML boolean' : typeof value === 'string' ? 'text' : Array.isArray(value) ? 'a list' : 'a map';
  if (typeof kind === 'object') {
    if (!isMap(value)) {
      report(path, `it expects a map here, and this is ${what}`);
      return;
    }
    if ('struct' in kind) {
      for (const [key, v] of Object.entries(value)) {
        const field = fieldFor(kind.struct, key);
        if (field !== undefined) check(ctx, kindOf(field), v, [...path, key], report);
      }
    } else {
      for (const [key, v] of Object.entries(value)) check(ctx, kind.map, v, [...path, key], report);
    }
    return;
  }
  switch (kind) {
    case 'string':
    case 'url':
    case 'tlsVersion':
      if (typeof value === 'number' || typeof value === 'boolean') report(path, quotedForReference(text(), value, path));
      else if (typeof value !== 'string') report(path, `it expects text here, and this is ${what}`);
      return;
    case 'duration':
      // A bare 0 is taken; any other number "is missing a unit".
      if (typeof value === 'number' && value !== 0) report(path, `${text()} is a number without a unit, and it expects a duration here: write it with one, for example "${text()}s"`);
      else if (typeof value !== 'string' && typeof value !== 'number') report(path, `it expects a duration here ("30s", "5m"), and this is ${what}`);
      return;
    case 'bool':
      if (typeof value !== 'boolean') report(path, `it expects true or false here, and this is ${what}${typeof value === 'string' && GO_YAML_BOOLEAN.test(value) ? `: write it unquoted, ${value}` : ''}`);
      return;
    case 'int':
      if (typeof value === 'number' && !Number.isInteger(value)) report(path, `${text()} is not a whole number, and it expects one here`);
      else if (typeof value !== 'number') report(path, `it expects a whole number here, and this is ${what}${typeof value === 'string' && Number.isInteger(goYAMLNumber(value.trim())) ? `: write it unquoted` : ''}`);
      return;
    case 'float':
      if (typeof value !== 'number') report(path, `it expects a number here, and this is ${what}${typeof value === 'string' && goYAMLNumber(value.trim()) !== undefined ? `: write it unquoted` : ''}`);
      return;
    case 'bytesize':
    case 'bytesizeOrPercent':
      if (typeof value === 'number' && !Number.isInteger(value)) report(path, `${text()} is not a whole number of bytes: write a whole number, or a size with a unit such as "1.5GiB"`);
      else if (typeof value !== 'number' && typeof value !== 'string') report(path, `it expects a size here ("10GiB" or a number of bytes), and this is ${what}`);
      return;
    case 'stringList':
    case 'set':
      if (Array.isArray(value)) value.forEach((v, i) => check(ctx, 'string', v, [...path, String(i)], report));
      else if (kind === 'stringList' || !isMap(value)) report(path, `it expects a list of text here, and this is ${what}`);
      return;
    case 'stringMap':
    case 'boolMap':
      if (!isMap(value)) report(path, `it expects a map here, and this is ${what}`);
      else for (const [key, v] of Object.entries(value)) check(ctx, kind === 'stringMap' ? 'string' : 'bool', v, [...path, key], report);
      return;
    case 'rawJSON':
    case 'any':
      return;
  }
}
