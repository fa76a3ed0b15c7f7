import type { Readable, Transform, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Database } from './database.ts';
import type { SqlBinder } from './sql-binder.ts';
import type { ParamSpecs, ParamValuesOf } from './params.ts';
import type { RunMetrics } from './metrics.ts';
import type { Input } from './input.ts';
import type { Rejection } from './rejects.ts';
import type { Batch, Columns, EncodedStream, SqlEncoding } from './values.ts';

export type { Batch, Column, Columns, ColumnType, EncodedStream, Row, SheetEncoding, SqlEncoding, TextEncoding, Value } from './values.ts';

/**
 * What every component sees while a run builds its stages. `params` are the run's validated
 * values, typed for the parameters the component declared (`P`); untyped code sees them all.
 */
export interface StageContext<P extends ParamSpecs = ParamSpecs> {
  readonly pipeline: string;
  readonly params: ParamValuesOf<P>;
  readonly batchSize: number;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly metrics: RunMetrics;
  /** Readers a file export may run in parallel (`--parallel`); 1 or absent: one. */
  readonly parallel?: number;
  /** Where a parallel export's parts spill while they wait their turn. */
  readonly spillDir?: string;
  /** When the run started; for a partition of a partitioned run, when the whole run did (a stamp all its partitions share). */
  readonly startedAt: Date;
  /** Set when the run is one partition of a partitioned run: only the rows of its slice are its work. */
  readonly partition?: Partition;
  /** The run's database, opened on first use and closed by the run. */
  database(): Promise<Database>;
  /** The bytes a file source reads (USAGE when the run has none). */
  input(): Input;
  /** Records a row an import will not write (counted, written to the rejects file; past the limit it throws). */
  reject(rejection: Rejection): void;
}

interface ComponentSpec<P extends ParamSpecs> {
  /** A stable kind such as `source.sql` or `sink.csv`, shown by `sluice describe`. */
  readonly kind: string;
  /** One line for `sluice describe`. */
  readonly summary: string;
  /** Parameters the component contributes to every pipeline that uses it. */
  readonly params?: P;
  /**
   * Checks the component against the columns it receives (a source: the columns it declares),
   * when the pipeline is defined: a column it needs that is not there, a parameter it reads that
   * nobody declares. Throws INVALID_DEFINITION; `names` are the pipeline's parameters.
   */
  check?(columns: Columns, names: ReadonlySet<string>): void;
}

export interface SourceSpec<P extends ParamSpecs = ParamSpecs> extends ComponentSpec<P> {
  readonly columns: Columns;
  /**
   * Counts the rows the source will yield (honouring limits), stopping at `atMost`. Used by
   * `requireRows` before any output is opened, and as the total for a progress bar's ETA.
   */
  count?(ctx: StageContext<P>, atMost?: number): Promise<number>;
  open(ctx: StageContext<P>): Promise<Readable> | Readable;
  /** Reads the run's input (`ctx.input()`): an import, which HTTP feeds from a request body. */
  readonly readsInput?: boolean;
  /** `openEncoded` can split the rows into key ranges read side by side (`ctx.parallel`, see src/db/parallel-export.ts). */
  readonly parallelEncoded?: boolean;
  /** `openEncoded` also writes XLSX sheet rows (SheetEncoding); other sources are only asked for text. */
  readonly encodesSheets?: boolean;
  /** The rows already encoded at the source (PostgreSQL's COPY, a SQLite worker), or undefined where it cannot. */
  openEncoded?(ctx: StageContext<P>, encoding: SqlEncoding): Promise<EncodedStream | undefined>;
  /** The table and key order this source pages through, for an update in place; undefined when this run reads nothing. */
  keyset?(ctx: StageContext<P>): Promise<KeysetPlan | undefined>;
  /** Reading the rows slice by slice in the order of a unique key: what lets an export take checkpoints and resume. */
  readonly slices?: SliceReader<P>;
}

/** A slice of a source's rows in its key order, `after < key <= through`, either end open; key values as text. */
export interface KeySlice {
  readonly after?: string;
  readonly through?: string;
}

/** One partition of a partitioned run: a slice of the rows in key order, and its place among the others. */
export interface Partition {
  readonly slice: KeySlice;
  /** 0-based; a file export's partition 0 writes the preamble and header. */
  readonly index: number;
  readonly of: number;
  /** When the whole run started (ISO 8601), shared by its partitions. */
  readonly runStartedAt: string;
}

/**
 * A source whose order is a unique key, read in slices: an export writes one slice after the
 * other and takes a checkpoint (the last key, the file's length) at each slice's end.
 */
export interface SliceReader<P extends ParamSpecs = ParamSpecs> {
  /** The key column, for messages and checkpoints. */
  readonly key: string;
  /** The key of the `rows`-th row after `after`, or undefined when fewer rows remain. */
  end(ctx: StageContext<P>, after: string | undefined, rows: number): Promise<string | undefined>;
  /** How many rows the whole export may yield at most (a limit parameter), or undefined. */
  limit(ctx: StageContext<P>): number | undefined;
  open(ctx: StageContext<P>, slice: KeySlice): Promise<Readable>;
  /** The slice encoded at the source (see SourceSpec.openEncoded). */
  openEncoded?(ctx: StageContext<P>, encoding: SqlEncoding, slice: KeySlice): Promise<EncodedStream | undefined>;
  /**
   * Cuts the whole export (filters and limit applied) into at most `parts` consecutive slices of
   * about equal row counts, from the data (see src/db/key-ranges.ts): a partitioned run's work.
   */
  plan?(ctx: StageContext<P>, parts: number): Promise<readonly KeySlice[]>;
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

export interface TransformSpec<P extends ParamSpecs = ParamSpecs> extends ComponentSpec<P> {
  /** The columns after this transform; omitted when the transform keeps them. Throws INVALID_DEFINITION for input it cannot take. */
  columns?(input: Columns): Columns;
  open(ctx: StageContext<P>, input: Columns): BatchFn;
  /** The same transform in SQL, for a database to apply to a table in place; omitted where SQL cannot say it. */
  sqlChange?(ctx: StageContext<P>, input: Columns, sql: SqlBinder): SqlRowChange;
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
export interface EncoderSinkSpec<P extends ParamSpecs = ParamSpecs> extends ComponentSpec<P> {
  readonly type: 'encoder';
  readonly format: OutputFormat;
  /** `continuing`: the bytes follow an earlier part of the same output (a resumed export's next slice), so no preamble or header. */
  open(ctx: StageContext<P>, columns: Columns, options?: { readonly continuing?: boolean }): Transform;
  /** Set when `open` honours `continuing`, and its bytes for a run of rows do not depend on the rows before: the output can be written in slices. */
  readonly sliceable?: boolean;
  /** The same output as `open` would write, for a database to produce (see SqlEncoding). */
  sqlEncoding?(ctx: StageContext<P>, columns: Columns): SqlEncoding;
  /**
   * When the source's bytes (sqlEncoding) are not yet the file's, as an XLSX sheet's rows are
   * not the workbook: the stream that makes them the file.
   */
  assemble?(ctx: StageContext<P>, columns: Columns): Transform;
}

/** A sink that consumes batches itself, e.g. writing them to a database. */
export interface WriterSinkSpec<P extends ParamSpecs = ParamSpecs> extends ComponentSpec<P> {
  readonly type: 'writer';
  open(ctx: StageContext<P>, columns: Columns): Promise<Writable> | Writable;
  /** Set when the sink updates rows of a table by key, which a database can also do in place. */
  readonly updates?: UpdatesTable;
  /**
   * The sink calls `ctx.metrics.recordCommitted(rows)` after each commit, and the run counts
   * those rows rather than the ones that reached it: an interrupted run's summary says what was kept.
   */
  readonly countsCommitted?: boolean;
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

export type SinkSpec<P extends ParamSpecs = ParamSpecs> = EncoderSinkSpec<P> | WriterSinkSpec<P>;

/**
 * A pipeline as written: its own parameters (`P`), a source, transforms and a sink, each of
 * which may declare parameters of its own. The hooks see the pipeline's own parameters, typed.
 */
export interface PipelineDefinition<
  P extends ParamSpecs = ParamSpecs,
  S extends SourceSpec = SourceSpec,
  T extends readonly TransformSpec[] = readonly TransformSpec[],
  K extends SinkSpec = SinkSpec,
> {
  readonly name: string;
  readonly description: string;
  readonly params: P;
  readonly source: S;
  readonly transforms: T;
  readonly sink: K;
  /** Refuse to run (and create no output) when no row reaches the sink; the message names what is missing. */
  readonly requireRows?: { readonly message: string };
  /** The pipeline's own default for `batchSize` (e.g. larger write transactions). */
  readonly defaultBatchSize?: number;
  /** Open a SQLite database even if its file does not exist yet (seeding). */
  readonly createsDatabase?: boolean;
  /** Checks that run after parameter validation and before any output is opened. */
  preflight?(ctx: StageContext<P>): Promise<void>;
}
