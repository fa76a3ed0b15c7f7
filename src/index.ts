// The public API: everything a pipeline file, an app or an embedding server needs comes from here.
import type { Pipeline } from './core/define.ts';
import type { ParamSpecs } from './core/params.ts';
import { type RunOptions, type RunResult, runPipeline as runWith } from './core/run.ts';
import { openDatabase } from './db/open.ts';

// Definitions
export { definePipeline, RESERVED_PARAMS, type Pipeline } from './core/define.ts';
export { defineApp, type AppDefinition } from './core/app.ts';
export { columnIndex, columnIndexes } from './core/columns.ts';
export type {
  Batch,
  BatchFn,
  Column,
  Columns,
  ColumnType,
  EncodedStream,
  EncoderSinkSpec,
  KeysetPlan,
  KeySlice,
  Partition,
  OutputFormat,
  PipelineDefinition,
  Row,
  SinkSpec,
  SliceReader,
  SourceSpec,
  SheetEncoding,
  SqlEncoding,
  TextEncoding,
  SqlRowChange,
  StageContext,
  TransformSpec,
  UpdateResult,
  UpdatesTable,
  Value,
  WriterSinkSpec,
} from './core/types.ts';
export {
  BATCH_SIZE_PARAM,
  parseParams,
  type BooleanParam,
  type DateParam,
  type EnumParam,
  type IntegerParam,
  type ParamSpec,
  type ParamSpecs,
  type ParamValue,
  type ParamValues,
  type ParamValuesOf,
  type RunParams,
  type StringParam,
} from './core/params.ts';

// Running
export { SluiceError, ERROR_CODES, type ErrorCode, isSluiceError } from './core/errors.ts';
export { describePipeline, type PipelineDescription, type ParamDescription } from './core/describe.ts';
export { loadPipelines, type PipelineSet } from './core/registry.ts';
export type { RunOptions, RunResult, RunProgress, DatabaseOpener } from './core/run.ts';
export type { RunSummary, StageSummary } from './core/metrics.ts';
export type { Output } from './core/output.ts';
export { DEFAULT_CHECKPOINT_ROWS, type CheckpointOptions, type CheckpointPosition, type ExportIdentity, type SlicedOutput } from './core/checkpoints.ts';
export { createLogger, type Logger, type LogLevel } from './core/logger.ts';

/**
 * Runs one pipeline (see core/run.ts); a database given as a URL is opened for the run and
 * closed after it.
 */
export function runPipeline<P extends ParamSpecs>(pipeline: Pipeline<P>, options: RunOptions<P>): Promise<RunResult> {
  return runWith(pipeline, { open: openDatabase, ...options });
}

// Databases
export { openDatabase, type OpenOptions } from './db/open.ts';
export { quoteIdent, placeholder, type Database, type Dialect, type SqlQuery, type UpsertMode, type UpsertOutcome, type UpsertTarget } from './core/database.ts';
export { SqlBinder } from './core/sql-binder.ts';
export { openAppDatabase, processBatches, streamRows, type AppDatabase, type RowObject } from './db/helpers.ts';

// Sources
export { sqlSelect, type SqlSelectConfig } from './sources/sql-select.ts';
export type { Filter } from './db/select.ts';
export { sqlKeyset, type SqlKeysetConfig } from './sources/sql-keyset.ts';

// Transforms
export { filterRows, type FilterRowsConfig } from './transforms/filter-rows.ts';
export { mapRows, type MapRowsConfig } from './transforms/map-rows.ts';
export { selectColumns } from './transforms/select-columns.ts';

// Sinks and outputs
export { csvSink, type CsvSinkConfig } from './sinks/csv.ts';
export { tsvSink, type TsvSinkConfig } from './sinks/tsv.ts';
export { txtSink } from './sinks/txt.ts';
export { ndjsonSink } from './sinks/ndjson.ts';
export { csvSource } from './sources/csv-file.ts';
export type { FileSourceConfig } from './sources/file-source-spec.ts';
export { ndjsonSource } from './sources/ndjson-file.ts';
export { xlsxSource } from './sources/xlsx-file.ts';
export { fileSource } from './sources/file-input.ts';
export { inputForPath, formatOfPath, INPUT_FORMATS, type Input, type InputFormat } from './core/input.ts';
export type { Rejection, RejectsList, RejectsOptions } from './core/rejects.ts';
export { rejectsFile } from './sinks/rejects-file.ts';
export { xlsxSink, type XlsxSinkConfig } from './sinks/xlsx.ts';
export { sqlInsert, type SqlInsertConfig } from './sinks/sql-insert.ts';
export { sqlUpdate, type SqlUpdateConfig } from './sinks/sql-update.ts';
export { sqlUpsert, type SqlUpsertConfig, type UpsertCounts } from './sinks/sql-upsert.ts';
export { fileOutput, fileWriter, stdoutOutput, outputForPath } from './sinks/file-output.ts';
export { encoderStream } from './sinks/encoder-stream.ts';

// Formats (pure cores)
export { csvHeader, encodeCsvBatch, type CsvOptions } from './format/csv.ts';
export { encodeTsvBatch, tsvHeader, type TsvOptions } from './format/tsv.ts';
export { escapeFormula } from './format/formula.ts';
export { encodeNdjsonBatch } from './format/ndjson.ts';
export { coerceValue, coerceRow, mapHeader, headerKey, unescapeFormula, type ImportColumn, type RawValue, type Coerced, type CoerceOptions } from './format/import-values.ts';

// HTTP
export { pipelineHandler, type PipelineHandlerOptions, type RequestHandler } from './http/handler.ts';
export { httpOutput, type HttpOutputOptions } from './http/http-output.ts';
export { importHandler, type ImportHandlerOptions } from './http/import-handler.ts';
export { createSluiceServer, type SluiceServerOptions, type SluiceServer } from './http/server.ts';
export { requireBearer, generateToken, type BearerOptions } from './http/auth.ts';
export { createLimiter, type Limiter } from './http/limiter.ts';
export { SluiceMetrics, type SluiceMetricsOptions, type JobOutcome } from './metrics/prometheus.ts';
