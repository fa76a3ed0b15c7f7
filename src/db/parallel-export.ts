import { tmpdir } from 'node:os';
import type { Database } from '../core/database.ts';
import { type AssemblyOptions, OrderedAssembly, readAheadByDefault } from '../core/ordered-assembly.ts';
import type { ParamValues } from '../core/params.ts';
import type { EncodedStream, SqlEncoding, StageContext } from '../core/types.ts';
import type { EncodedParts, PartsRequest } from './parallel-parts.ts';
import { postgresParts } from './parallel-postgres.ts';
import { sqliteParts } from './parallel-sqlite.ts';
import { PostgresDatabase } from './postgres.ts';
import type { SelectSpec } from './select.ts';
import { SqliteDatabase } from './sqlite.ts';

export type { EncodedParts, PartsRequest } from './parallel-parts.ts';

/**
 * A source's rows as parallel parts in key order, all of one snapshot (see parallel-postgres.ts,
 * parallel-sqlite.ts), or the reason the export stays on one reader.
 */
export function openEncodedParts(db: Database, spec: SelectSpec, params: ParamValues, encoding: SqlEncoding, request: PartsRequest): Promise<EncodedParts> {
  if (request.parallel < 2) return Promise.resolve({ readers: 1, reason: 'one reader was asked for' });
  if (db instanceof PostgresDatabase) {
    if (encoding.format === 'xlsx-sheet') return Promise.resolve({ readers: 1, reason: 'a PostgreSQL XLSX export reads one binary COPY and writes its sheet rows here, on one reader (the main thread writes every part)' });
    return postgresParts(db, spec, params, encoding, request.parallel);
  }
  if (db instanceof SqliteDatabase) return sqliteParts(db, spec, params, encoding, request);
  return Promise.resolve({ readers: 1, reason: `${db.label} has no parallel reader` });
}

/** The parts joined in key order: one encoded stream, its row count the parts' sum. */
class ParallelExport extends OrderedAssembly implements EncodedStream {
  readonly encodedBy: string;
  readonly #parts: readonly EncodedStream[];

  constructor(parts: readonly EncodedStream[], options: AssemblyOptions, encodedBy: string) {
    super(parts, options);
    this.#parts = parts;
    this.encodedBy = encodedBy;
  }

  get rowCount(): number | undefined {
    let sum = 0;
    for (const part of this.#parts) {
      if (part.rowCount === undefined) return undefined;
      sum += part.rowCount;
    }
    return sum;
  }
}

/**
 * A file export read by `ctx.parallel` readers, or undefined when it runs on one (the reason is
 * in the debug log). Either way the run's summary notes the readers and why.
 */
export async function openParallelExport(db: Database, spec: SelectSpec, ctx: StageContext, encoding: SqlEncoding, uniqueKey: boolean): Promise<EncodedStream | undefined> {
  // Settled before any reader opens: a mistaken setting must not leave readers behind.
  const readAhead = readAheadByDefault();
  const planned = await openEncodedParts(db, spec, ctx.params, encoding, { parallel: ctx.parallel ?? 1, batchSize: ctx.batchSize, uniqueKey });
  ctx.metrics.note('readers', { count: planned.readers, asked: ctx.parallel, reason: planned.reason });
  ctx.logger.debug({ readers: planned.readers }, `${planned.readers} reader(s): ${planned.reason}`);
  if (!planned.parts) return undefined;
  return new ParallelExport(planned.parts, { spillDir: ctx.spillDir ?? tmpdir(), spillPrefix: 'sluice-export', readAhead }, planned.reason);
}
