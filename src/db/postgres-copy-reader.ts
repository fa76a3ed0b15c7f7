import type pg from 'pg';
import type { CopyQuery } from '../core/database.ts';
import type { PgBinaryCopyTranscoder } from '../format/pg-binary-copy.ts';
import { SluiceError } from '../core/errors.ts';
import { binaryTranscoder } from './postgres-binary-copy.ts';
import { translateDbError } from './errors.ts';
import { CopyOutQuery } from './postgres-copy-out.ts';
import { type ClientReaderOptions, PooledClientReader, streamingTransaction } from './postgres-client.ts';

/** Bytes passed on in one turn of the event loop before the reader lets other work run. */
const YIELD_BYTES = 256 * 1024;

/**
 * The bytes of `COPY (SELECT ...) TO STDOUT`, with backpressure, on a client of its own, inside a
 * read-only transaction (see STREAMING_TRANSACTION). The query's values are bound with `set_config` (COPY itself takes no
 * parameters) and read back in the SQL with `current_setting`: they are never spliced into SQL.
 */
export class PostgresCopyReader extends PooledClientReader {
  readonly #query: CopyQuery;
  #copy: CopyOutQuery | undefined;
  /** Set when the server sends binary COPY, which this turns into the text COPY's bytes. */
  #transcoder: PgBinaryCopyTranscoder | undefined;
  /** Bytes passed on since the last turn of the event loop. */
  #sinceYield = 0;
  /** Data rows copied, known at the end. */
  rowCount: number | undefined;
  readonly encodedBy = 'COPY';
  /** Rows encoded so far from binary COPY (the text COPY's are counted by their line ends). */
  get rowsSoFar(): number | undefined {
    return this.#transcoder?.rows;
  }
  /** Which COPY the server sends, once it started: `binary` turned into the text's bytes here, or `text` itself. */
  copyFormat: 'binary' | 'text' | undefined;

  constructor(pool: pg.Pool, query: CopyQuery, options: ClientReaderOptions) {
    super(pool, options, { highWaterMark: 256 * 1024 });
    this.#query = query;
  }

  protected async start(client: pg.PoolClient): Promise<void> {
    this.busy = true;
    await this.begin(client);
    const { settings } = this.#query;
    if (settings.length > 0) {
      const assignments = settings.map((_, i) => `set_config('sluice.p${i + 1}', $${i + 1}, true)`).join(', ');
      await client.query(`SELECT ${assignments}`, settings.map(String));
    }
    const binary = this.#query.binary;
    this.#transcoder = binary && this.options.binaryCopy !== false ? await binaryTranscoder(client, binary) : undefined;
    if (!this.#transcoder && binary?.encoding.format === 'xlsx-sheet') {
      // copyOutSheet checked the columns just before: their types changed since.
      throw new SluiceError('INTERNAL', `The columns of the XLSX export changed while it started (${binary.describe}); run it again.`);
    }
    this.copyFormat = this.#transcoder ? 'binary' : 'text';
    const text = this.#transcoder && binary ? binary.text : this.#query.text;
    const copy = client.query(new CopyOutQuery(text) as unknown as pg.Submittable) as unknown as CopyOutQuery;
    this.#copy = copy;
    copy.on('data', (chunk: Buffer) => {
      this.#sinceYield += chunk.length;
      const bytes = this.#encoded(chunk);
      if (bytes === undefined) return;
      if (bytes.length > 0 && !this.push(bytes)) {
        // Our consumer is behind: the server waits on us, not the other way round.
        copy.pause();
        this.serverAnswered();
        return;
      }
      this.awaitServer();
      if (this.#sinceYield >= YIELD_BYTES) {
        copy.pause();
        this.#resumeSoon();
      }
    });
    copy.on('error', (error: Error) => this.destroy(translateDbError(error, this.options.label)));
    copy.on('end', () => void this.#complete());
  }

  /** The chunk as the export's bytes (transcoded from binary COPY); undefined once a malformed chunk has failed the read. */
  #encoded(chunk: Buffer): Buffer | undefined {
    if (this.#transcoder === undefined) return chunk;
    try {
      return this.#transcoder.transcode(chunk);
    } catch (error) {
      this.destroy(error as Error);
      return undefined;
    }
  }

  /** Opens the read's transaction, in the shared snapshot when it has one; a parallel export's parts say so ('joined'). */
  protected async begin(client: pg.PoolClient): Promise<void> {
    await client.query(streamingTransaction(this.options.snapshot));
    this.emit('joined');
  }

  /** COMMIT completes after COPY's CommandComplete, which carries the row count. */
  async #complete(): Promise<void> {
    try {
      const held = this.#transcoder?.finish();
      if (held !== undefined && held.length > 0) this.push(held);
      await this.client!.query('COMMIT');
      this.rowCount = this.#copy!.rowCount;
      this.busy = false;
      this.serverAnswered();
      this.finished = true;
      this.push(null);
    } catch (error) {
      this.destroy(translateDbError(error, this.options.label));
    }
  }

  /**
   * Bytes flow in bounded turns of the event loop: a consumer that never blocks (a fast socket)
   * would otherwise take chunk after chunk in one synchronous run of callbacks (pg-copy-streams
   * reads all the socket holds), and an HTTP server would answer nothing else, not even /healthz,
   * for hundreds of milliseconds. Measured with 8 downloads on 2 cores: 112 event-loop turns in
   * 13 s and /healthz p50 300 ms before; see bench/RESULTS.md for after.
   */
  #resumeSoon(): void {
    this.#sinceYield = 0;
    setImmediate(() => {
      if (this.destroyed || this.finished) return;
      this.awaitServer();
      this.#copy!.resume();
    });
  }

  override _read(): void {
    if (this.#copy && !this.finished) this.#resumeSoon();
  }
}
