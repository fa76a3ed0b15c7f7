import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { SluiceError, sqlKeyset } from 'sluice';
import type { Dialect, ParamSpecs, SourceSpec, StageContext, TransformSpec, UpdateResult } from 'sluice';
import { ticketColumns } from './tickets.ts';
import { barcodeConditions } from './barcode-sql.ts';
import { padBarcodes } from './pad-barcodes.ts';
import {
  type BarcodeCounts,
  countBarcodes,
  countShortBarcodes,
  findCollisions,
  formatBarcodeCounts,
  writeBarcodeReport,
} from './barcode-preflight.ts';

/**
 * The parts of the migrate-8digit-barcodes pipeline: its pre-flight (counts, report, refusal,
 * backup), the source of tickets still to pad, the padding transform and the final check. The
 * pre-flight's findings reach the stages of the same run through the run's StageContext.
 */

const NAME = 'migrate-8digit-barcodes';

export const BARCODE_MIGRATION_PARAMS = {
  dryRun: { type: 'boolean', default: false, description: 'Only report what would change; change nothing' },
  report: { type: 'string', accepts: 'a file path', description: 'Write the offending tickets (invalid, colliding) to this CSV file' },
  skipInvalid: { type: 'boolean', default: false, description: 'Leave invalid and colliding barcodes untouched (listed in --report) instead of refusing' },
  backup: { type: 'string', accepts: 'a file path', description: 'SQLite only: take an online backup to this file before the first write' },
} as const satisfies ParamSpecs;

/** What the migration's pre-flight sees: its parameters, typed. */
type MigrationContext = StageContext<typeof BARCODE_MIGRATION_PARAMS>;

/** What the pre-flight learned, for the stages of the same run. */
interface MigrationRun {
  /** The run's time, stamped into `updated_at` of every changed ticket. */
  readonly startedAt: string;
  readonly counts: BarcodeCounts;
  /** Colliding tickets, left untouched (with --skip-invalid; otherwise the run refused). */
  readonly skipIds: ReadonlySet<number>;
  readonly dryRun: boolean;
  /** Nothing will be written: a dry run, or nothing left to change. */
  readonly idle: boolean;
}

const runs = new WeakMap<StageContext, MigrationRun>();

function runOf(ctx: StageContext): MigrationRun {
  const run = runs.get(ctx);
  if (!run) throw new SluiceError('INTERNAL', `${NAME}: the stages ran without the pre-flight.`);
  return run;
}

function refusal(counts: BarcodeCounts, report: string | undefined): SluiceError {
  const where = report ? `they are listed in ${report}` : 'list them with --report PATH';
  return new SluiceError(
    'PRECONDITION_FAILED',
    `Refusing to migrate: ${counts.invalid.toLocaleString('en-US')} invalid barcode(s) and ${counts.collisions.toLocaleString('en-US')} collision(s) ` +
      `(of ${counts.total.toLocaleString('en-US')} tickets, ${counts.toChange.toLocaleString('en-US')} to change); ${where}. ` +
      'Fix them, or pass --skip-invalid to leave them untouched. Nothing was changed.',
  );
}

async function checkBackup(ctx: StageContext, path: string, dryRun: boolean): Promise<void> {
  const db = await ctx.database();
  if (!db.backup) throw new SluiceError('INVALID_PARAM', `--backup works on SQLite only; back up ${db.label} with pg_dump before migrating.`);
  // An earlier (perhaps interrupted) run's backup is the only copy of the original barcodes.
  if (!dryRun && existsSync(path)) throw new SluiceError('PRECONDITION_FAILED', `The backup file ${path} already exists (an earlier run's?); it is kept. Remove it or pass another --backup path.`);
}

export async function barcodeMigrationPreflight(ctx: MigrationContext): Promise<void> {
  // A partitioned run's partitions share the run's start: every ticket gets the same stamp.
  const startedAt = ctx.startedAt.toISOString();
  const { dryRun, report, skipInvalid, backup } = ctx.params;
  if (backup) await checkBackup(ctx, backup, dryRun);
  const db = await ctx.database();
  const counts = await countBarcodes(db);
  const collisions = counts.collisions > 0 ? await findCollisions(db) : [];
  ctx.logger.info({ preflight: counts }, `${NAME} pre-flight: ${counts.toChange} to change, ${counts.alreadyDone} already 8 digits, ${counts.invalid} invalid, ${counts.collisions} collisions`);
  if (report) await writeBarcodeReport(report, db, collisions, { batchSize: ctx.batchSize, signal: ctx.signal, hasInvalid: counts.invalid > 0 });
  const offending = counts.invalid + counts.collisions > 0;
  ctx.metrics.note('preflight', counts);
  if (dryRun) process.stderr.write(formatBarcodeCounts(counts, `${NAME} (dry run, nothing changed) on ${db.label}:`));
  else if (offending && !skipInvalid) throw refusal(counts, report);
  if (backup && !dryRun) {
    await db.backup!(backup);
    ctx.logger.info({ backup }, `${NAME}: backup written to ${backup}`);
  }
  ctx.metrics.expectedRows = dryRun ? 0 : counts.toChange;
  runs.set(ctx, { startedAt, counts, skipIds: new Set(collisions.map((c) => c.id)), dryRun, idle: dryRun || counts.toChange === 0 });
}

/** The final check and the summary, once the last batch is committed. */
export async function finishBarcodeMigration(ctx: StageContext, result: UpdateResult): Promise<void> {
  const run = runOf(ctx);
  const { counts } = run;
  if (run.dryRun) return;
  const db = await ctx.database();
  // A partition answers for its own keys; the whole run's check follows its last partition.
  const within = ctx.partition ? { key: migrationKey(db.dialect), slice: ctx.partition.slice } : undefined;
  const remaining = await countShortBarcodes(db, within);
  if (!within && remaining > run.skipIds.size) {
    throw new SluiceError('INTERNAL', `${NAME}: ${remaining - run.skipIds.size} short barcode(s) remain that should have been padded (tickets added meanwhile?); run the migration again.`);
  }
  if (counts.invalid > 0) ctx.metrics.warn('invalid barcodes', counts.invalid);
  const summary = { changed: result.changed, skipped: run.skipIds.size, invalid: counts.invalid, alreadyDone: counts.alreadyDone, remainingShort: remaining };
  ctx.logger.info(
    { migration: summary },
    `${NAME}: changed ${summary.changed}, skipped ${summary.skipped} (collisions), invalid ${summary.invalid} (untouched), already 8 digits ${summary.alreadyDone}; no short numeric barcode left${remaining > 0 ? ' except the skipped ones' : ''}`,
  );
}

function migrationKey(dialect: Dialect): string {
  return dialect === 'sqlite' ? 'barcode' : 'id';
}

const keyset = sqlKeyset({
  summary: 'Tickets with a short numeric barcode, page by page (by barcode on SQLite, by id on PostgreSQL)',
  table: 'tickets',
  columns: ticketColumns('id', 'barcode'),
  // SQLite writes every page a batch touches to the WAL, once per batch. In barcode order a
  // batch's barcode-index changes share a few pages; in id order, where barcodes do not follow
  // ids, each row moves two random index entries (a million scattered legacy barcodes: 72 s by
  // id, 24 s by barcode, before the checkpoint tuning in SqliteDatabase.updateBatch). Where
  // they do follow ids the two orders are the same. PostgreSQL appends new row versions and
  // updates six indexes, which id order keeps together.
  key: migrationKey,
  where: (dialect) => barcodeConditions(dialect).short,
});

/** Selects only tickets that still need padding, so a re-run resumes where a killed run stopped. */
export const ticketsToPad: SourceSpec<{}> = {
  ...keyset,
  open: (ctx) => (runOf(ctx).idle ? Readable.from([]) : keyset.open(ctx)),
  keyset: async (ctx) => (runOf(ctx).idle ? undefined : keyset.keyset!(ctx)),
};

/** Pads the barcodes, leaves colliding tickets alone and stamps `updated_at` with the run's time. */
export const padTicketBarcodes: TransformSpec<{}> = padBarcodes({
  skip: { column: 'id', keys: (ctx) => runOf(ctx).skipIds },
  stamp: { column: 'updated_at', value: (ctx) => runOf(ctx).startedAt },
});

