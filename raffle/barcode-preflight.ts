import { pipeline as pipe } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { csvHeader, encodeCsvBatch, fileWriter, placeholder, quoteIdent } from 'sluice';
import type { Columns, CsvOptions, Database, Dialect, KeySlice, Row, SqlQuery, Value } from 'sluice';
import { ticketColumns } from './tickets.ts';
import { BARCODE_LENGTH, invalidReason } from './barcodes.ts';
import { barcodeConditions } from './barcode-sql.ts';

/**
 * The 8-digit barcode migration's checks, in SQL so that a million tickets are counted by the
 * database rather than loaded into memory. Every ticket falls in exactly one class:
 * total = toChange + alreadyDone + invalid + collisions.
 */
export interface BarcodeCounts {
  readonly total: number;
  /** Short numeric barcodes whose padded form is unique: these get padded. */
  readonly toChange: number;
  readonly alreadyDone: number;
  /** Empty, non-digits, or longer than 8. */
  readonly invalid: number;
  /** Short numeric barcodes whose padded form equals another ticket's (padded or existing) barcode. */
  readonly collisions: number;
}

/** A short barcode that cannot be padded without duplicating another ticket's. */
export interface Collision {
  readonly id: number;
  readonly ticketNumber: string;
  readonly barcode: string;
  readonly padded: string;
  /** The lowest id among the other tickets with the same padded barcode. */
  readonly conflictingId: number;
}

const TABLE = 'tickets';

/**
 * Two numeric barcodes of at most 8 digits pad to the same value exactly when they are equal
 * without their leading zeros (`ltrim(barcode, '0')`, the key k); a group of two or more such
 * barcodes with a short one among them is a collision, short-with-short or short-with-existing.
 *
 * The CTE `m` yields the candidate members (id, ticket_number, barcode, k). On PostgreSQL it is
 * every numeric barcode, grouped by hashing. On SQLite, whose grouping sorts, only tickets near
 * a leading zero: two distinct barcodes with the same k cannot both lack leading zeros (they
 * would both equal k), so every group holds a zero-led member, found by a range scan of the
 * barcode index; its one possible zero-less partner is the barcode k itself, found by a probe.
 * On a table of legacy barcodes without leading zeros this costs next to nothing.
 */
function membersCte(dialect: Dialect): string {
  const is = barcodeConditions(dialect);
  if (dialect === 'postgres') return `m AS (SELECT id, ticket_number, barcode, ltrim(barcode, '0') AS k FROM ${TABLE} WHERE ${is.numeric})`;
  return `z AS (
  SELECT id, ticket_number, barcode, ltrim(barcode, '0') AS k FROM ${TABLE} WHERE barcode >= '0' AND barcode < '1' AND ${is.numeric}
),
m AS (
  SELECT id, ticket_number, barcode, k FROM z
  UNION
  SELECT t.id, t.ticket_number, t.barcode, t.barcode FROM z JOIN ${TABLE} t ON t.barcode = z.k WHERE z.k <> ''
)`;
}

const DUPLICATED_KEYS = `SELECT k FROM m GROUP BY k HAVING count(*) > 1`;

function countsQuery(dialect: Dialect): SqlQuery {
  const is = barcodeConditions(dialect);
  const text = `SELECT count(*), sum(CASE WHEN ${is.done} THEN 1 ELSE 0 END), sum(CASE WHEN ${is.short} THEN 1 ELSE 0 END) FROM ${TABLE}`;
  return { text, values: [] };
}

function collisionCountQuery(dialect: Dialect): SqlQuery {
  const text = `WITH ${membersCte(dialect)}
SELECT count(*) FROM m WHERE length(barcode) < ${BARCODE_LENGTH} AND k IN (${DUPLICATED_KEYS})`;
  return { text, values: [] };
}

export async function countBarcodes(db: Database): Promise<BarcodeCounts> {
  const [counts] = await db.query(countsQuery(db.dialect));
  const [colliding] = await db.query(collisionCountQuery(db.dialect));
  const [total, alreadyDone, short] = (counts ?? []).map((v) => Number(v ?? 0));
  const collisions = Number(colliding?.[0] ?? 0);
  return {
    total: total!,
    toChange: short! - collisions,
    alreadyDone: alreadyDone!,
    invalid: total! - alreadyDone! - short!,
    collisions,
  };
}

/** The colliding short barcodes, each with the lowest other id sharing its padded barcode. */
function collisionsQuery(dialect: Dialect): SqlQuery {
  const zeros = '0'.repeat(BARCODE_LENGTH);
  const text = `WITH ${membersCte(dialect)},
c AS (SELECT id, ticket_number, barcode, k FROM m WHERE k IN (${DUPLICATED_KEYS}))
SELECT a.id, a.ticket_number, a.barcode, substr('${zeros}' || a.k, length(a.k) + 1), min(b.id)
FROM c a JOIN c b ON b.k = a.k AND b.id <> a.id
WHERE length(a.barcode) < ${BARCODE_LENGTH}
GROUP BY a.id, a.ticket_number, a.barcode, a.k
ORDER BY a.id`;
  return { text, values: [] };
}

export async function findCollisions(db: Database): Promise<Collision[]> {
  const rows = await db.query(collisionsQuery(db.dialect));
  return rows.map(([id, ticketNumber, barcode, padded, conflictingId]) => ({
    id: Number(id),
    ticketNumber: String(ticketNumber),
    barcode: String(barcode),
    padded: String(padded),
    conflictingId: Number(conflictingId),
  }));
}

/** Short numeric barcodes still in the table: after a run, only the skipped collisions. */
/** Short numeric barcodes left, in the whole table or among the keys of one partition's slice. */
export async function countShortBarcodes(db: Database, within?: { readonly key: string; readonly slice: KeySlice }): Promise<number> {
  const values: Value[] = [];
  const bound = (op: string, value: string | undefined) => {
    if (value === undefined) return '';
    values.push(value);
    return ` AND ${quoteIdent(within!.key)} ${op} ${placeholder(db.dialect, values.length)}`;
  };
  const range = within ? bound('>', within.slice.after) + bound('<=', within.slice.through) : '';
  const [row] = await db.query({ text: `SELECT count(*) FROM ${TABLE} WHERE ${barcodeConditions(db.dialect).short}${range}`, values });
  return Number(row?.[0] ?? 0);
}

export const REPORT_COLUMNS: Columns = [
  ...ticketColumns('id', 'ticket_number', 'barcode'),
  { name: 'reason', type: 'text' },
  { name: 'padded', type: 'text' },
  { name: 'conflicting_id', type: 'integer' },
];

function invalidQuery(dialect: Dialect): SqlQuery {
  const { numeric } = barcodeConditions(dialect);
  return { text: `SELECT id, ticket_number, barcode FROM ${TABLE} WHERE CASE WHEN ${numeric} THEN 0 ELSE 1 END = 1 ORDER BY id`, values: [] };
}

const toReportRow = (c: Collision): Row => [c.id, c.ticketNumber, c.barcode, 'collision', c.padded, c.conflictingId];

/** Invalid tickets streamed from the database, merged in id order with the (few) collisions. */
async function* reportRows(db: Database, collisions: readonly Collision[], batchSize: number, hasInvalid: boolean): AsyncGenerator<Row[]> {
  let next = 0;
  if (!hasInvalid) {
    yield collisions.map(toReportRow);
    return;
  }
  const invalid = db.streamBatches(invalidQuery(db.dialect), { batchSize });
  try {
    for await (const batch of invalid as AsyncIterable<Row[]>) {
      const out: Row[] = [];
      for (const [id, ticketNumber, barcode] of batch) {
        while (next < collisions.length && collisions[next]!.id < Number(id)) out.push(toReportRow(collisions[next++]!));
        out.push([id ?? null, ticketNumber ?? null, barcode ?? null, `invalid: ${invalidReason(barcode)}`, null, null]);
      }
      yield out;
    }
  } finally {
    invalid.destroy();
  }
  if (next < collisions.length) yield collisions.slice(next).map(toReportRow);
}

/**
 * The offending tickets as CSV (id, ticket_number, barcode, reason, padded, conflicting_id), in
 * id order, written atomically: the file appears only once complete.
 */
export async function writeBarcodeReport(path: string, db: Database, collisions: readonly Collision[], options: { batchSize: number; signal: AbortSignal; hasInvalid: boolean }): Promise<void> {
  const csv: CsvOptions = { escapeFormulas: true };
  async function* lines(): AsyncGenerator<string> {
    yield csvHeader(REPORT_COLUMNS);
    for await (const batch of reportRows(db, collisions, options.batchSize, options.hasInvalid)) yield encodeCsvBatch(batch, REPORT_COLUMNS, csv);
  }
  await pipe(Readable.from(lines(), { objectMode: false }), fileWriter(path), { signal: options.signal });
}

function line(label: string, n: number): string {
  return `  ${label.padEnd(26)}${n.toLocaleString('en-US').padStart(12)}\n`;
}

/** The pre-flight as plain text for a terminal. */
export function formatBarcodeCounts(counts: BarcodeCounts, heading: string): string {
  return (
    `${heading}\n` +
    line('tickets', counts.total) +
    line('to change (pad to 8)', counts.toChange) +
    line('already 8 digits', counts.alreadyDone) +
    line('invalid', counts.invalid) +
    line('collisions', counts.collisions)
  );
}
