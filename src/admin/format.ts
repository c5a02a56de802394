/**
 * Tables for `instances list` and `containers list`. The items are read
 * defensively: the CLI may talk to a daemon of another version (or the
 * reference), so a missing or oddly typed field shows as "-" rather than
 * crashing the listing.
 */

/** One row of GET /arvados/v1/dispatch/instances, as documented in ARVADOS.md section 7. */
export interface InstanceItem {
  instance?: string;
  address?: string;
  price?: number;
  arvados_instance_type?: string;
  provider_instance_type?: string;
  last_container_uuid?: string;
  last_busy?: string | number;
  running_container_uuids?: string[] | null;
  worker_state?: string;
  idle_behavior?: string;
  /** Ours (not the reference's): what it has cost so far, dollars. */
  cost?: number;
  /** Ours: why it was created ahead of work (warm pool, pre-warming). */
  note?: string;
  /** Ours: drain to save gives it no new work. */
  draining?: { since?: string; reason?: string };
}

/** One row of GET /arvados/v1/dispatch/containers. */
export interface ContainerItem {
  container?: { uuid?: string; state?: string; priority?: number; [key: string]: unknown };
  /**
   * Eligible types, cheapest first: the reference sends Go's InstanceType
   * records, whose `Name` is not serialised, so the provider type is what
   * identifies them; plain names are accepted too.
   */
  instance_types?: Array<string | { Name?: string; ProviderType?: string }>;
  first_seen_at?: string | number;
  scheduling_status?: string;
}

/** Widest a free-text cell may be before it is cut with an ellipsis; identifiers are never cut, as they are what the operator copies. */
const MAX_TEXT = 48;

const NONE = '-';

/** Renders rows under a header, each column as wide as its widest cell, two spaces apart, no trailing blanks. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Cuts `s` to at most `max` characters, marking the cut. */
export function truncate(s: string, max = MAX_TEXT): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * The reference's columns, then ours only when the daemon sends them: COST
 * (dollars so far) and NOTE (why a VM was created ahead of work, or why it
 * drains), so a listing from the reference looks as it always did.
 */
export function instancesTable(items: readonly InstanceItem[]): string {
  const withCost = items.some((it) => typeof it.cost === 'number');
  const withNote = items.some((it) => noteCell(it) !== NONE);
  const header = ['ID', 'TYPE', 'STATE', 'IDLE BEHAVIOR', 'PRICE', 'CONTAINERS', 'LAST BUSY', 'ADDRESS'];
  if (withCost) header.push('COST');
  if (withNote) header.push('NOTE');
  const rows = items.map((it) => {
    const row = [
      // A create in flight has an empty id: there is no instance to name yet.
      it.instance === '' ? '(being created)' : text(it.instance),
      truncate(text(it.arvados_instance_type) + (it.provider_instance_type && it.provider_instance_type !== it.arvados_instance_type ? ` (${it.provider_instance_type})` : '')),
      text(it.worker_state),
      text(it.idle_behavior),
      typeof it.price === 'number' ? formatPrice(it.price) : NONE,
      containersCell(it.running_container_uuids),
      timeCell(it.last_busy),
      text(it.address),
    ];
    if (withCost) row.push(typeof it.cost === 'number' ? `$${it.cost.toFixed(2)}` : NONE);
    if (withNote) row.push(noteCell(it));
    return row;
  });
  return renderTable(header, rows);
}

function noteCell(it: InstanceItem): string {
  if (it.draining && typeof it.draining === 'object') return truncate(`draining: ${text(it.draining.reason)}`, 80);
  return typeof it.note === 'string' && it.note !== '' ? truncate(it.note, 80) : NONE;
}

export function containersTable(items: readonly ContainerItem[]): string {
  const header = ['UUID', 'STATE', 'PRIORITY', 'INSTANCE TYPES', 'SCHEDULING STATUS'];
  const rows = items.map((it) => [
    text(it.container?.uuid),
    text(it.container?.state),
    typeof it.container?.priority === 'number' ? String(it.container.priority) : NONE,
    truncate(typeNames(it.instance_types), 32),
    truncate(text(it.scheduling_status), 72),
  ]);
  return renderTable(header, rows);
}

function text(v: unknown): string {
  if (typeof v === 'string' && v !== '') return v.replace(/\s+/g, ' ');
  if (typeof v === 'number') return String(v);
  return NONE;
}

/** An hourly price in dollars, as `$0.10/h`: often a fraction of a cent, so to 4 decimals (at least 2), distinct without noise. */
function formatPrice(p: number): string {
  return `$${p.toFixed(4).replace(/(\.\d\d)(\d*?)0+$/, '$1$2')}/h`;
}

/** The first container in full (to copy), then how many more. */
function containersCell(uuids: unknown): string {
  if (!Array.isArray(uuids) || uuids.length === 0) return NONE;
  const first = String(uuids[0]);
  return uuids.length === 1 ? first : `${first} +${uuids.length - 1}`;
}

/**
 * Timestamps to the second, in UTC. The reference sends Go's zero time for
 * "never", and some encoders send epoch ms; both are handled.
 */
function timeCell(v: unknown): string {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && v !== '') ms = Date.parse(v);
  else return NONE;
  if (!Number.isFinite(ms) || ms <= 0) return NONE;
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

function typeNames(types: ContainerItem['instance_types']): string {
  if (!Array.isArray(types) || types.length === 0) return NONE;
  return types.map((t) => (typeof t === 'string' ? t : (t?.Name ?? t?.ProviderType ?? '?'))).join(',');
}
