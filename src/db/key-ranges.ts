import { SluiceError } from '../core/errors.ts';
import type { KeySlice, Row, Value } from '../core/types.ts';
import { type Dialect, type SqlQuery, quoteIdent } from '../core/database.ts';

/**
 * Rows of one table in the order of a unique key, as a partition planner sees them: the
 * condition is SQL in the dialect's placeholder style with its bound values (never user text).
 */
export interface RangeSource {
  readonly table: string;
  readonly key: string;
  readonly where?: string;
  readonly values: readonly Value[];
  /** Only the first `limit` rows in key order count. */
  readonly limit?: number;
}

/**
 * A half-open slice of the key: `key > after AND key <= through`, either side omitted when open.
 * Consecutive ranges share their bound, so every row falls in exactly one of them.
 */
export interface KeyRange {
  readonly after?: Value;
  readonly through?: Value;
  /** The rows it held when planned (an estimate when the plan was sampled). */
  readonly rows: number;
}

export interface KeyRangePlan {
  readonly key: string;
  readonly ranges: readonly KeyRange[];
  readonly rows: number;
  /** The bounds come from a sample of the keys (sampleQuery): the rows are estimates. */
  readonly sampled?: boolean;
  /**
   * PostgreSQL's name for the key's type: bounds travel as text and are cast back to it where
   * they cannot be bound as parameters (COPY reads them with current_setting).
   */
  readonly keyType?: string;
}

/** One row per tile, in key order: the tile's largest key (null where it was not asked for) and its row count. */
export type TileRow = readonly [Value, number];

function integerLiteral(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new SluiceError('INTERNAL', `${what} must be a non-negative integer, not ${n}.`);
  return String(n);
}

/**
 * Rows in tiles 1..i when `rows` are dealt into `parts` tiles as `ntile` deals them: sizes differ
 * by at most one, the larger ones first.
 */
export function rowsThrough(i: number, rows: number, parts: number): number {
  return Math.floor(rows / parts) * i + Math.min(i, rows % parts);
}

/**
 * The tiles' bounds from the data in one query: the matching rows' count, then the key at each
 * tile's last rank, found by `ORDER BY key LIMIT 1 OFFSET rank - 1` (an index walk: on 1,000,000
 * keys about 4x cheaper than `ntile` over them all, which sorts and groups every row). The bounds
 * are those of `ntile(parts)`, so skewed or sparse keys balance as well as dense ones. With a
 * limit, the last tile's bound (the last row's key) is asked for too: it closes the last range.
 * Counts are spliced as checked integer literals, which keeps the placeholders of `where`
 * numbered as given; SQLite's `?` placeholders take the values once per use of `where`.
 */
export function boundsQuery(dialect: Dialect, source: RangeSource, parts: number): SqlQuery {
  const p = integerLiteral(parts, 'The number of parts');
  const key = quoteIdent(source.key);
  const table = quoteIdent(source.table);
  const where = source.where ? ` WHERE ${source.where}` : '';
  // A limit counts the first rows in key order. So does PostgreSQL when nothing filters: the
  // count then reads the key's index, whose pages the bounds' walks and the readers read next,
  // instead of the smallest index (cold: 200 -> 140 ms per million rows).
  const order = source.limit !== undefined || (dialect === 'postgres' && !source.where) ? ` ORDER BY ${key}` : '';
  const limit = source.limit === undefined ? '' : ` LIMIT ${integerLiteral(source.limit, 'The limit')}`;
  const [least, greatest] = dialect === 'postgres' ? ['least', 'greatest'] : ['min', 'max'];
  const last = source.limit === undefined ? parts - 1 : parts;
  const bounds = Array.from({ length: last }, (_, at) => {
    const offset = `(SELECT ${greatest}(n / ${p} * ${at + 1} + ${least}(${at + 1}, n % ${p}) - 1, 0) FROM total)`;
    const bound = `(SELECT ${key} FROM ${table}${where} ORDER BY ${key} LIMIT 1 OFFSET ${offset})`;
    return dialect === 'postgres' ? `${bound}::text` : bound;
  });
  const type = dialect === 'postgres' ? [`(SELECT pg_typeof(${key})::text FROM ${table} LIMIT 1)`] : [];
  const list = ['n', ...bounds, ...type].join(', ');
  const text = `WITH total AS (SELECT count(*) AS n FROM (SELECT 1 FROM ${table}${where}${order}${limit}) AS matching) SELECT ${list} FROM total`;
  const uses = dialect === 'postgres' ? 1 : 1 + bounds.length;
  return { text, values: Array.from({ length: uses }, () => source.values).flat() };
}

/** The tiles of `rows` rows from the bounds query's answer (`[count, bound 1, bound 2, ...]`). */
export function tilesFromBounds(row: readonly Value[], parts: number): TileRow[] {
  const rows = Number(row[0]);
  const tiles = Math.min(parts, rows);
  return Array.from({ length: tiles }, (_, at) => [row[at + 1] ?? null, rowsThrough(at + 1, rows, parts) - rowsThrough(at, rows, parts)] as const);
}

/**
 * Ranges from the tiles' upper bounds: the first open below, the last open above (or closed at
 * the last key when a limit cut the rows, since rows past it must stay out). No rows: one range
 * of everything, so an export still writes its header.
 */
export function rangesFromTiles(tiles: readonly TileRow[], options: { readonly closedAbove?: boolean } = {}): KeyRange[] {
  if (tiles.length === 0) return [{ rows: 0 }];
  return tiles.map(([max, count], i) => {
    const after = i > 0 ? tiles[i - 1]![0] : undefined;
    const through = i < tiles.length - 1 || options.closedAbove ? max : undefined;
    return { ...(after === undefined ? {} : { after }), ...(through === undefined ? {} : { through }), rows: Number(count) };
  });
}

/**
 * PostgreSQL tables of at least this many rows (by their statistics) are planned from a sample
 * of their keys: counting the matching rows and walking the key to each bound reads them all,
 * several times over (1,000,000 tickets: 0.1-0.15 s unfiltered, 1.3 s in 2 ranges and 2.0 s in 4
 * with a text search), where a sample reads a tenth of its pages (30-90 ms).
 */
const SAMPLE_ABOVE_ROWS = 100_000;
/** Rows the sample reads (in whole pages), whatever the table's size: 1,000,000 tickets split within 8% in 30-60 ms (30,000: 13%; 300,000: 3% in 120 ms). */
const SAMPLE_ROWS = 100_000;
/** Fewer matching rows in the sample than this per part (a rare filter): the plan counts instead. */
const MIN_SAMPLED_PER_PART = 200;

/**
 * The table's row count by its statistics, scaled to its size now as PostgreSQL's planner does
 * (rows per page at the last ANALYZE times the pages it has now: a table loaded since is not
 * taken for its old size), if it has statistics and can be sampled (a table, not a view).
 */
function tableStatsQuery(source: RangeSource): SqlQuery {
  const pagesNow = `pg_relation_size(oid) / current_setting('block_size')::float8`;
  return {
    text: `SELECT CASE WHEN relpages > 0 AND reltuples >= 0 THEN reltuples / relpages * ${pagesNow} ELSE reltuples END::float8 FROM pg_class WHERE oid = to_regclass($1) AND relkind IN ('r', 'm', 'p')`,
    values: [quoteIdent(source.table)],
  };
}

/**
 * The bounds from a page sample of `percent` of the table (TABLESAMPLE SYSTEM): the matching
 * sampled rows' count, the keys at each part's share of them (as text, in a JSON array), and
 * the key's type. The keys come from the data, so skewed and sparse keys balance as in the count.
 */
function sampleQuery(source: RangeSource, parts: number, percent: number): SqlQuery {
  if (!(percent > 0 && percent <= 100)) throw new SluiceError('INTERNAL', `A sample must be of more than 0 and at most 100 percent, not ${percent}.`);
  const p = integerLiteral(parts, 'The number of parts');
  const key = quoteIdent(source.key);
  const table = quoteIdent(source.table);
  const where = source.where ? ` WHERE ${source.where}` : '';
  const shares = Array.from({ length: parts - 1 }, (_, i) => `${i + 1}.0 / ${p}`).join(', ');
  const bounds = `array_to_json((percentile_disc(ARRAY[${shares}]::float8[]) WITHIN GROUP (ORDER BY ${key}))::text[])::text`;
  const type = `(SELECT pg_typeof(${key})::text FROM ${table} LIMIT 1)`;
  return { text: `SELECT count(*), ${bounds}, ${type} FROM ${table} TABLESAMPLE SYSTEM (${percent.toFixed(6)})${where}`, values: source.values };
}

/**
 * A PostgreSQL plan from a sample of the keys, or undefined where counting is the way: a small
 * table, one without statistics, a limit (the first rows must be counted), a rare filter.
 */
async function sampledPlan(query: (q: SqlQuery) => Promise<Row[]>, source: RangeSource, parts: number): Promise<KeyRangePlan | undefined> {
  if (source.limit !== undefined || parts < 2) return undefined;
  const [stats] = await query(tableStatsQuery(source));
  const tableRows = Number(stats?.[0] ?? -1);
  if (!(tableRows >= SAMPLE_ABOVE_ROWS)) return undefined;
  const percent = Math.min(100, (100 * SAMPLE_ROWS) / tableRows);
  const [row] = await query(sampleQuery(source, parts, percent));
  const sampled = Number(row?.[0] ?? 0);
  if (sampled < MIN_SAMPLED_PER_PART * parts) return undefined;
  // Equal keys at neighbouring shares (a skew the sample exaggerates) make one bound.
  const bounds = [...new Set(JSON.parse(String(row![1])) as string[])];
  const estimate = Math.round((sampled * 100) / percent);
  const tiles: TileRow[] = [...bounds, null].map((bound) => [bound, Math.round(estimate / (bounds.length + 1))]);
  const ranges = rangesFromTiles(tiles);
  return { key: source.key, ranges, rows: estimate, sampled: true, keyType: checkedKeyType(String(row![2]), source.key) };
}

function checkedKeyType(keyType: string, key: string): string {
  if (!TYPE_NAME.test(keyType)) throw new SluiceError('INTERNAL', `Cannot plan key ranges over ${key}: its type ${keyType} has no plain name.`);
  return keyType;
}

/** A PostgreSQL type name as pg_typeof spells it, safe to splice after `::`. */
const TYPE_NAME = /^[a-z_][a-z0-9_ ]*(\[\])?$/;

/**
 * Plans `parts` ranges of about equal row counts: from a sample of a large PostgreSQL table's
 * keys (sampledPlan), else by counting. `query` runs the planning queries, on the connection
 * (and snapshot) the readers will share.
 */
export async function planKeyRanges(query: (q: SqlQuery) => Promise<Row[]>, dialect: Dialect, source: RangeSource, parts: number): Promise<KeyRangePlan> {
  const wanted = Math.max(1, Math.floor(parts));
  const sampled = dialect === 'postgres' ? await sampledPlan(query, source, wanted) : undefined;
  if (sampled) return sampled;
  const [row] = await query(boundsQuery(dialect, source, wanted));
  const tiles = tilesFromBounds(row ?? [0], wanted);
  const ranges = rangesFromTiles(tiles, { closedAbove: source.limit !== undefined });
  const rows = ranges.reduce((sum, r) => sum + r.rows, 0);
  const keyType = dialect === 'postgres' && row && tiles.length > 0 ? checkedKeyType(String(row.at(-1)), source.key) : undefined;
  return { key: source.key, ranges, rows, ...(keyType ? { keyType } : {}) };
}

/** The ranges' sizes for a run's summary: `key ranges of 500/500 rows`, `about` where sampled. */
export function describeRanges(plan: KeyRangePlan): string {
  return `key ranges of ${plan.sampled ? 'about ' : ''}${plan.ranges.map((r) => r.rows).join('/')} rows`;
}

/** A range as the engine's slice of an export (see SliceReader): its bounds as text. */
export function sliceOfRange(range: KeyRange): KeySlice {
  return { ...(range.after == null ? {} : { after: String(range.after) }), ...(range.through == null ? {} : { through: String(range.through) }) };
}

/** The condition that keeps a range's rows; `bind` returns the marker of a bound value. */
export function rangeCondition(key: string, range: KeyRange, bind: (value: Value) => string): string[] {
  const name = quoteIdent(key);
  const clauses: string[] = [];
  if (range.after !== undefined) clauses.push(`${name} > ${bind(range.after)}`);
  if (range.through !== undefined) clauses.push(`${name} <= ${bind(range.through)}`);
  return clauses;
}
