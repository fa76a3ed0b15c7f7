import type { Batch, Columns, TextEncoding } from '../core/types.ts';
import { csvHeader, encodeCsvBatch } from './csv.ts';
import { encodeTsvBatch, tsvHeader } from './tsv.ts';

export interface BatchEncoder {
  /** The header row, or '' (the encoding's preamble, a BOM, is not part of it). */
  readonly header: string;
  readonly encode: (batch: Batch) => string;
}

/**
 * The JavaScript encoder for an output described as TextEncoding: what COPY writes on
 * PostgreSQL, written by sluice's own encoders elsewhere (a SQLite reader's worker). `text` with
 * one column is the TXT format (one value per line).
 */
export function batchEncoder(encoding: TextEncoding, columns: Columns): BatchEncoder {
  const options = { escapeFormulas: encoding.escapeFormulas };
  if (encoding.format === 'csv') return { header: encoding.header ? csvHeader(columns) : '', encode: (batch) => encodeCsvBatch(batch, columns, options) };
  return { header: encoding.header ? tsvHeader(columns) : '', encode: (batch) => encodeTsvBatch(batch, columns, options) };
}
