import type { Readable } from 'node:stream';
import type { Input } from '../core/input.ts';
import type { Batch, SourceSpec, StageContext } from '../core/types.ts';
import { type ImportColumn, type RawValue, coerceRow, headerResolver } from '../format/import-values.ts';

export interface FileSourceConfig {
  /** The columns the rows fill, with their rules; the input's header names them (see mapHeader). */
  readonly columns: readonly ImportColumn[];
  /** Input header -> column name, where the names differ. */
  readonly mapping?: Readonly<Record<string, string>>;
  /** XLSX: the sheet to read, by name (default: the first); the others are read past. */
  readonly sheet?: string;
  /** Undo the formula escape sluice's exports add (default: CSV yes, NDJSON and XLSX no: their exports add none). */
  readonly unescapeFormulas?: boolean;
}

/**
 * What the file sources share: the run's input as their data, the columns they fill, and a
 * mapping checked when the pipeline is defined (one to a column that does not exist is refused
 * then, not when a file happens to have that header).
 */
export function fileSourceSpec(kind: string, what: string, config: FileSourceConfig, read: (input: Input, ctx: StageContext) => Readable): SourceSpec<{}> {
  headerResolver(config.columns, config.mapping);
  return {
    kind,
    summary: `${what} (${config.columns.map((c) => c.name).join(', ')})`,
    readsInput: true,
    columns: config.columns.map(({ name, type }) => ({ name, type })),
    open: (ctx) => read(ctx.input(), ctx),
  };
}

/** What a file source's rows need of the run: batch size, parameters, the rejects. */
export type RowContext = Pick<StageContext, 'batchSize' | 'reject' | 'params'>;

/**
 * The shared end of every file source: each record's values coerced to a row, a record that
 * fails rejected with where it stood, and rows handed out a batch at a time.
 */
export class RowBatcher {
  #batch: Batch = [];

  /** `unescapeByDefault`: undo the formula escape unless the config says (CSV: its exports add one). */
  constructor(
    private readonly config: FileSourceConfig,
    private readonly ctx: RowContext,
    private readonly unescapeByDefault: boolean,
  ) {}

  /** Adds one record; returns a full batch to yield, or undefined. `values` (the record as read) is asked for only on a rejection. */
  add(raw: (column: number) => RawValue, where: string, values: () => Readonly<Record<string, unknown>>): Batch | undefined {
    const coerced = coerceRow(raw, this.config.columns, { unescape: this.config.unescapeFormulas ?? this.unescapeByDefault, params: this.ctx.params });
    if ('reason' in coerced) {
      this.ctx.reject({ where, reason: coerced.reason, values: values() });
      return undefined;
    }
    this.#batch.push(coerced.row);
    return this.#batch.length >= this.ctx.batchSize ? this.#take() : undefined;
  }

  /** The last, partial batch, if any. */
  rest(): Batch | undefined {
    return this.#batch.length > 0 ? this.#take() : undefined;
  }

  #take(): Batch {
    const full = this.#batch;
    this.#batch = [];
    return full;
  }
}
