import type { Readable, Transform, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Database } from '../db/database.ts';
import type { SqlBinder } from '../db/sql-binder.ts';
import type { ParamSpecs, ParamValues } from './params.ts';
import type { RunMetrics } from './metrics.ts';

/** Logical column types: they decide formatting (CSV escaping, XLSX cell types), not storage. */
export type ColumnType = 'integer' | 'text' | 'timestamp';

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}
export type Columns = readonly Column[];

/**
 * A row is an array in column order. Timestamps travel as canonical ISO-8601 UTC text
 * (`2026-01-01T00:00:07.000Z`), so every database yields the same values.
 */
export type Value = string | number | bigint | null;
export type Row = Value[];
/** Stages pass batches: a chunk per row would cost about a microsecond per row per stage. */
export type Batch = Row[];

/** What every component sees while a run builds its stages. */
export interface StageContext {
  readonly pipeline: string;
  readonly params: ParamValues;
  readonly batchSize: number;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly metrics: RunMetrics;
  /** The run's database, opened on first use and closed by the run. */
  database(): Promise<Database>;
}

interface ComponentSpec {
  /** A stable kind such as `source.sql` or `sink.csv`, shown by `sluice describe`. */
  readonly kind: string;
  /** One line for `sluice describe`. */
  readonly summary: string;
  /** Parameters the component contributes to every pipeline that uses it. */
  readonly params?: ParamSpecs;
}

/**
 * An encoder's output described so that the database can write it itself (PostgreSQL's COPY),
 * which sluice uses when no transform sits between source and sink.
 */
export interface SqlEncoding {
  readonly format: 'csv' | 'text';
  readonly header: boolean;
  /** Text cells get the spreadsheet formula escape. */
  readonly escapeFormulas: boolean;
  /** Bytes written before the database's own (a BOM). */
  readonly preamble: string;
}

/** Encoded bytes from the database; `rowCount` is known once the stream has ended. */
export interface EncodedStream extends Readable {
  readonly rowCount: number | undefined;
}

export interface SourceSpec extends ComponentSpec {
  readonly columns: Columns;
  /**
   * Counts the rows the source will yield (honouring limits), stopping at `atMost`. Used by
   * `requireRows` before any output is opened, and as the total for a progress bar's ETA.
   */
  count?(ctx: StageContext, atMost?: number): Promise<number>;
  open(ctx: StageContext): Promise<Readable> | Readable;
  /** The rows already encoded by the database, or undefined where it cannot (SQLite). */
  openEncoded?(ctx: StageContext, encoding: SqlEncoding): Promise<EncodedStream | undefined>;
  /** The table and key order this source pages through, for an update in place; undefined when this run reads nothing. */
  keyset?(ctx: StageContext): Promise<KeysetPlan | undefined>;
}

/** A table read page by page in key order (keyset pagination). */
export interface KeysetPlan {
  readonly table: string;
  /** A unique, indexed column: pages are `key > last ORDER BY key`. */
  readonly key: string;
  /** A fixed condition the rows meet (no bound values). */
  readonly where?: string;
}

/**
 * A transform is a pure function of one batch; the run wraps the chain of them into a single
 * stream (stream-chain), so transforms are tested without streams. Returning an empty batch
 * drops it.
 */
export type BatchFn = (batch: Batch) => Batch;

export interface TransformSpec extends ComponentSpec {
  /** The columns after this transform; omitted when the transform keeps them. */
  columns?(input: Columns): Columns;
  open(ctx: StageContext, input: Columns): BatchFn;
  /** The same transform in SQL, for a database to apply to a table in place; omitted where SQL cannot say it. */
  sqlChange?(ctx: StageContext, input: Columns, sql: SqlBinder): SqlRowChange;
}

/**
 * What a transform does to a table's rows, in SQL. The JavaScript form stays the reference: the
 * tests run a pipeline both ways and compare the tables.
 */
export interface SqlRowChange {
  /** The rows the transform changes; it drops the others. */
  readonly where?: string;
  /** The columns it changes or adds, as SQL expressions over the row's current columns. */
  readonly set: Readonly<Record<string, string>>;
}

/** Where an encoder's bytes go, as chosen by the front end (file, stdout, HTTP response). */
export interface OutputFormat {
  readonly extension: string;
  readonly contentType: string;
}

/** A sink that turns batches into bytes; the run sends them to an output. */
export interface EncoderSinkSpec extends ComponentSpec {
  readonly type: 'encoder';
  readonly format: OutputFormat;
  open(ctx: StageContext, columns: Columns): Transform;
  /** The same output as `open` would write, for a database to produce (see SqlEncoding). */
  sqlEncoding?(ctx: StageContext, columns: Columns): SqlEncoding;
}

/** A sink that consumes batches itself, e.g. writing them to a database. */
export interface WriterSinkSpec extends ComponentSpec {
  readonly type: 'writer';
  open(ctx: StageContext, columns: Columns): Promise<Writable> | Writable;
  /** Set when the sink updates rows of a table by key, which a database can also do in place. */
  readonly updates?: UpdatesTable;
}

/** What an update sink did, for its `finish` hook. */
export interface UpdateResult {
  /** Rows the database reported as changed. */
  readonly changed: number;
  /** Rows that reached the sink but matched no row (deleted meanwhile). */
  readonly missing: number;
}

/** What an update sink changes: these columns of this table (by key on the row path, by page in place). */
export interface UpdatesTable {
  readonly table: string;
  readonly columns: readonly string[];
  /** Runs after the last change is committed (a final check, a summary); a throw fails the run. */
  readonly finish?: (ctx: StageContext, result: UpdateResult) => Promise<void>;
}

export type SinkSpec = EncoderSinkSpec | WriterSinkSpec;

export interface PipelineDefinition {
  readonly name: string;
  readonly description: string;
  readonly params: ParamSpecs;
  readonly source: SourceSpec;
  readonly transforms: readonly TransformSpec[];
  readonly sink: SinkSpec;
  /** Refuse to run (and create no output) when the source has no rows; the message names what is missing. */
  readonly requireRows?: { readonly message: string };
  /** The pipeline's own default for `batchSize` (e.g. larger write transactions). */
  readonly defaultBatchSize?: number;
  /** Open a SQLite database even if its file does not exist yet (seeding). */
  readonly createsDatabase?: boolean;
  /** Checks that run after parameter validation and before any output is opened. */
  readonly preflight?: (ctx: StageContext) => Promise<void>;
}
