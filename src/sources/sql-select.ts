import { SluiceError } from '../core/errors.ts';
import type { ParamSpecs } from '../core/params.ts';
import { didYouMean } from '../core/suggest.ts';
import type { Database } from '../core/database.ts';
import type { ColumnType, EncodedStream, KeySlice, SliceReader, SourceSpec, SqlEncoding, StageContext } from '../core/types.ts';
import { openParallelExport } from '../db/parallel-export.ts';
import { planKeyRanges, sliceOfRange } from '../db/key-ranges.ts';
import { type Filter, type Restriction, type SelectSpec, type SliceRange, buildCopy, buildSheetCopy, buildCount, buildPagedSelect, buildRangeEnd, buildSelect, rangeSource } from '../db/select.ts';

export interface SqlSelectConfig<P extends ParamSpecs = ParamSpecs> extends SelectSpec {
  readonly summary: string;
  /** Parameters the filters read, when the source declares them rather than the pipeline. */
  readonly params?: P;
  /**
   * Set when `orderBy` is unique and never null (a primary key), to its type: the export can then
   * be read in slices of that order, take checkpoints and resume (`sluice run --resume`).
   * Without it sluice cannot know that rows after the last key written are exactly those not written yet.
   */
  readonly uniqueOrderBy?: ColumnType;
}

function requireDeclared(what: string, name: string, names: ReadonlySet<string>): void {
  if (names.has(name)) return;
  throw new SluiceError('INVALID_DEFINITION', `${what} reads parameter "${name}", which nothing declares (a filter on an undeclared parameter would export every row).${didYouMean(name, names)}`);
}

function filterLabel(filter: Filter): string {
  return `the ${filter.op} filter on ${'columns' in filter ? filter.columns.join(', ') : filter.column}`;
}

/**
 * The rows as the database's COPY writes them; a sheet's rows from binary COPY, encoded by the
 * reader (undefined where the columns' types do not allow it: they take the row path).
 */
async function copied(db: Database, config: SqlSelectConfig, ctx: StageContext, encoding: SqlEncoding, restrict?: Restriction): Promise<EncodedStream | undefined> {
  if (encoding.format === 'xlsx-sheet') return restrict ? undefined : db.copyOutSheet?.(buildSheetCopy(config, ctx.params, encoding, ctx.batchSize));
  return db.copyOut?.(buildCopy(config, ctx.params, encoding, restrict));
}

/** Slices of the export in key order (see SliceReader), when its order is a declared unique key. */
function sliceReader(config: SqlSelectConfig): SliceReader | undefined {
  const keyType = config.uniqueOrderBy;
  if (keyType === undefined) return undefined;
  const range = (slice: KeySlice): SliceRange => ({ key: config.orderBy, keyType, ...slice });
  return {
    key: config.orderBy,
    async end(ctx, after, rows) {
      const db = await ctx.database();
      const [row] = await db.query(buildRangeEnd(db.dialect, config, ctx.params, range({ after }), rows));
      return row === undefined ? undefined : String(row[0]);
    },
    limit(ctx) {
      const value = config.limitParam === undefined ? undefined : ctx.params[config.limitParam];
      return typeof value === 'number' ? value : undefined;
    },
    async open(ctx, slice) {
      const db = await ctx.database();
      return db.streamBatches(buildSelect(db.dialect, config, ctx.params, range(slice)), { batchSize: ctx.batchSize });
    },
    async plan(ctx, parts) {
      const db = await ctx.database();
      const { ranges } = await planKeyRanges((q) => db.query(q), db.dialect, rangeSource(db.dialect, config, ctx.params), parts);
      return ranges.map(sliceOfRange);
    },
    async openEncoded(ctx, encoding, slice) {
      const db = await ctx.database();
      if (db.copyOut) return copied(db, config, ctx, encoding, range(slice));
      // Every slice but the last has an end: the next one follows.
      const more = slice.through !== undefined;
      const restrict = range(slice);
      return db.encodeRows?.(buildSelect(db.dialect, config, ctx.params, restrict), { columns: config.columns, encoding, batchSize: ctx.batchSize, more, pages: buildPagedSelect(config, ctx.params, restrict) });
    },
  };
}

/**
 * Rows of one table, filtered by bound parameters and ordered by a key, streamed in batches:
 * a server-side cursor on PostgreSQL, a lazy iterator on SQLite. Its filters read parameters by
 * name (the pipeline's or its own), checked when the pipeline is defined.
 */
export function sqlSelect<const P extends ParamSpecs = {}>(config: SqlSelectConfig<P>): SourceSpec<NoInfer<P>> {
  return {
    kind: 'source.sql-select',
    summary: config.summary,
    columns: config.columns,
    params: config.params,
    parallelEncoded: true,
    encodesSheets: true,
    check(_columns, names) {
      for (const filter of config.filters ?? []) requireDeclared(filterLabel(filter), filter.param, names);
      if (config.limitParam !== undefined) requireDeclared('the limit', config.limitParam, names);
    },
    // The filters may read any of the run's parameters: these see them all.
    async count(ctx: StageContext, atMost) {
      const db = await ctx.database();
      const [row] = await db.query(buildCount(db.dialect, config, ctx.params, atMost));
      return Number(row?.[0] ?? 0);
    },
    async open(ctx: StageContext) {
      const db = await ctx.database();
      return db.streamBatches(buildSelect(db.dialect, config, ctx.params), { batchSize: ctx.batchSize });
    },
    slices: sliceReader(config),
    /** PostgreSQL writes the bytes itself (COPY); SQLite reads and encodes in a worker thread. */
    async openEncoded(ctx: StageContext, encoding) {
      const db = await ctx.database();
      if ((ctx.parallel ?? 1) > 1) {
        const parallel = await openParallelExport(db, config, ctx, encoding, config.uniqueOrderBy !== undefined);
        if (parallel) return parallel;
      }
      if (db.copyOut) return copied(db, config, ctx, encoding);
      // A unique key lets the engine read the rows in pages of it (SQLite: a page per step, see sqlite-json-pages.ts).
      const pages = config.uniqueOrderBy === undefined ? undefined : buildPagedSelect(config, ctx.params);
      return db.encodeRows?.(buildSelect(db.dialect, config, ctx.params), { columns: config.columns, encoding, batchSize: ctx.batchSize, ...(pages ? { pages } : {}) });
    },
  };
}
