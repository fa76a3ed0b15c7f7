import { Readable, Writable } from 'node:stream';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { type Database, type SqlQuery, quoteIdent } from './database.ts';
import { SqlBinder } from './sql-binder.ts';
import { SluiceError } from './errors.ts';
import type { RunMetrics } from './metrics.ts';
import type { KeySlice, KeysetPlan, PipelineDefinition, SourceSpec, SqlRowChange, StageContext, TransformSpec, UpdatesTable, Value } from './types.ts';

interface InPlaceShape {
  readonly keyset: NonNullable<SourceSpec['keyset']>;
  readonly transform?: TransformSpec & Required<Pick<TransformSpec, 'sqlChange'>>;
  readonly updates: UpdatesTable;
}

function shapeOf({ source, transforms, sink }: PipelineDefinition): InPlaceShape | undefined {
  if (sink.type !== 'writer' || !sink.updates || !source.keyset || transforms.length > 1) return undefined;
  const [transform] = transforms;
  if (transform && !transform.sqlChange) return undefined;
  return { keyset: source.keyset.bind(source), transform: transform as InPlaceShape['transform'], updates: sink.updates };
}

/**
 * A pipeline that pages through a table by key, changes rows with at most one transform that has
 * an SQL form, and updates the same table runs inside the database: one UPDATE per page of keys,
 * and no row crosses into JavaScript. On SQLite a million-row migration spends 2.5 s in page
 * UPDATEs against 3.5 s in one prepared statement per row (better-sqlite3 costs about 1.3 µs per
 * statement run). Each page is one statement and so one transaction, as each batch is on the row
 * path: a killed run leaves whole pages changed, and the source's condition skips them next time.
 */
export class InPlaceUpdate {
  readonly #boundary: { first: string; after: string };
  /** The UPDATE without its key range: `${head} WHERE <range>${tail}`. */
  readonly #update: { head: string; tail: string };

  private constructor(
    private readonly db: Database,
    private readonly target: UpdatesTable,
    private readonly plan: KeysetPlan,
    private readonly sql: SqlBinder,
    change: SqlRowChange,
    /** A partition's keys (see StageContext.partition): the pages stay within them. */
    private readonly slice: KeySlice | undefined,
  ) {
    const key = quoteIdent(plan.key);
    const where = plan.where ? ` AND (${plan.where})` : '';
    const upper = slice?.through === undefined ? '' : ` AND ${key} <= ${sql.slot('through')}`;
    // The page's last key: the row `batchSize - 1` places after the page's first.
    const boundary = (lower: string) => `SELECT ${key} FROM ${quoteIdent(plan.table)} WHERE ${lower}${where}${upper} ORDER BY ${key} LIMIT 1 OFFSET ${sql.slot('skip')}`;
    this.#boundary = { first: boundary('TRUE'), after: boundary(`${key} > ${sql.slot('after')}`) };
    const sets = target.columns.map((column) => `${quoteIdent(column)} = ${change.set[column] ?? quoteIdent(column)}`);
    const changeWhere = change.where ? ` AND (${change.where})` : '';
    this.#update = { head: `UPDATE ${quoteIdent(plan.table)} SET ${sets.join(', ')}`, tail: `${where}${changeWhere}` };
  }

  /** Whether the pipeline has the shape: a keyset source, at most one transform with an SQL form, an update sink. */
  static fits(definition: PipelineDefinition): boolean {
    return shapeOf(definition) !== undefined;
  }

  /** The in-place form of the pipeline for this run, or undefined when it does not fit. */
  static async plan(ctx: StageContext, definition: PipelineDefinition): Promise<InPlaceUpdate | undefined> {
    const shape = shapeOf(definition);
    if (!shape) return undefined;
    const { source, sink } = definition;
    const { transform, updates } = shape;
    const plan = await shape.keyset(ctx);
    if (!plan || plan.table !== updates.table) return undefined;
    const db = await ctx.database();
    const sql = new SqlBinder(db.dialect);
    const change = transform?.sqlChange(ctx, source.columns, sql) ?? { set: {} };
    for (const column of updates.columns) {
      if (change.set[column] === undefined && !source.columns.some((c) => c.name === column)) {
        throw new SluiceError('INVALID_DEFINITION', `${sink.kind}: updates "${column}", which neither the source reads nor ${transform?.kind ?? 'a transform'} sets in SQL.`);
      }
    }
    return new InPlaceUpdate(db, updates, plan, sql, change, ctx.partition?.slice);
  }

  #page(after: Value | undefined, upto: Value | undefined): SqlQuery {
    const key = quoteIdent(this.plan.key);
    const bounds = [after === undefined ? undefined : `${key} > ${this.sql.slot('after')}`, upto === undefined ? undefined : `${key} <= ${this.sql.slot('upto')}`];
    const range = bounds.filter((b) => b !== undefined).join(' AND ') || 'TRUE';
    const slots: Record<string, Value> = {};
    if (after !== undefined) slots.after = after;
    if (upto !== undefined) slots.upto = upto;
    return this.sql.render(`${this.#update.head} WHERE ${range}${this.#update.tail}`, slots);
  }

  /**
   * The rows changed by each page's UPDATE, page after page, until a page comes up short. Each
   * page is counted as soon as it is committed: an abort may stop the run before the count
   * travels further, and the summary must still say what was kept.
   */
  async *#pages(signal: AbortSignal, batchSize: number, onCommit: (rows: number) => void): AsyncGenerator<number> {
    let after: Value | undefined = this.slice?.after;
    const through = this.slice?.through;
    for (;;) {
      signal.throwIfAborted();
      const boundary = after === undefined ? this.#boundary.first : this.#boundary.after;
      const slots = { skip: batchSize - 1, ...(after === undefined ? {} : { after }), ...(through === undefined ? {} : { through }) };
      const [row] = await this.db.query(this.sql.render(boundary, slots));
      const found = row?.[0] ?? undefined;
      // Fewer than a page left: the last page runs to the slice's end (or the table's).
      const changed = await this.db.change(this.#page(after, found ?? through));
      onCommit(changed);
      yield changed;
      if (found === undefined) return;
      after = found;
      // SQLite answers synchronously: without a macrotask between pages, timers and signals
      // (SIGINT, a progress line) would wait for the whole table.
      await nextMacrotask();
    }
  }

  /** The run's streams: the pages' counts, and a sink that records them and runs `finish`. */
  stages(ctx: StageContext, metrics: RunMetrics, stageCount: number): [Readable, Writable] {
    const { finish } = this.target;
    let changed = 0;
    metrics.countCommitsAtSink();
    const onCommit = (rows: number) => {
      changed += rows;
      // Every stage's count is the rows changed: none is read or dropped in JavaScript.
      for (let stage = 0; stage < stageCount - 1; stage++) metrics.recordBatch(stage, rows);
      metrics.recordCommitted(rows);
    };
    const counts = Readable.from(this.#pages(ctx.signal, ctx.batchSize, onCommit), { objectMode: true, highWaterMark: 1 });
    const recorder = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(_rows: number, _encoding, callback) {
        callback();
      },
      final(callback) {
        Promise.resolve(finish?.(ctx, { changed, missing: 0 })).then(() => callback(), callback);
      },
    });
    return [counts, recorder];
  }
}
