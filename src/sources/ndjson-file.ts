import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { SluiceError } from '../core/errors.ts';
import type { Batch, SourceSpec } from '../core/types.ts';
import { type RawValue, headerResolver } from '../format/import-values.ts';
import { type FileSourceConfig, type RowContext, RowBatcher, fileSourceSpec } from './file-source-spec.ts';

/** Which column each key of an object fills, learned key by key (objects need not all have the same keys). */
class KeyMap {
  readonly #columns = new Map<string, number>();
  readonly #columnOf: (name: string) => number | undefined;

  constructor(config: FileSourceConfig) {
    this.#columnOf = headerResolver(config.columns, config.mapping);
  }

  /** The object's value for each column (undefined where it has none). */
  values(object: Readonly<Record<string, unknown>>): RawValue[] {
    const out: RawValue[] = [];
    for (const [key, value] of Object.entries(object)) {
      let at = this.#columns.get(key);
      if (at === undefined) this.#columns.set(key, (at = this.#columnOf(key) ?? -1));
      if (at >= 0) out[at] = value as RawValue;
    }
    return out;
  }
}

/** Rows from JSON objects, one per line: each object's values by key, coerced; a line that fails is rejected with its number. */
export async function* ndjsonBatches(lines: AsyncIterable<string>, config: FileSourceConfig, ctx: RowContext, source: string): AsyncGenerator<Batch> {
  const keys = new KeyMap(config);
  // JSON is never formula-escaped (ndjsonSink writes values as they are): nothing to undo unless asked.
  const rows = new RowBatcher(config, ctx, false);
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    let object: unknown;
    try {
      object = JSON.parse(line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    } catch (error) {
      throw new SluiceError('INPUT_FAILED', `${source}, line ${line}: not JSON (${(error as Error).message}).`, { cause: error });
    }
    if (typeof object !== 'object' || object === null || Array.isArray(object)) throw new SluiceError('INPUT_FAILED', `${source}, line ${line}: not a JSON object.`);
    const record = object as Record<string, unknown>;
    const values = keys.values(record);
    const full = rows.add((i) => values[i], `line ${line}`, () => record);
    if (full) yield full;
  }
  const rest = rows.rest();
  if (rest) yield rest;
}

/** Rows from the run's NDJSON input (a file, stdin, a request body), validated against the columns. */
export function ndjsonSource(config: FileSourceConfig): SourceSpec<{}> {
  return fileSourceSpec('source.ndjson', 'NDJSON, one object per line', config, (input, ctx) => {
    const stream = input.open();
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    // readline does not end its input when the reader stops early: the source does.
    const batches = async function* () {
      try {
        yield* ndjsonBatches(lines, config, ctx, input.description);
      } finally {
        lines.close();
        stream.destroy();
      }
    };
    return Readable.from(batches());
  });
}
