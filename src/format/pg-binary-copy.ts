import { SluiceError } from '../core/errors.ts';
import { ByteOutput } from './byte-output.ts';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_FIXED = SIGNATURE.length + 8;
const EMPTY = Buffer.alloc(0);

/**
 * The framing of PostgreSQL's binary COPY (signature, header extension, tuples of length-prefixed
 * fields, the -1 trailer) read from chunks that may split a row anywhere: the rest waits for the
 * next chunk. A subclass turns the complete rows into its format's bytes (pg-binary-rows.ts: CSV,
 * TSV, TXT; pg-binary-sheet.ts: XLSX sheet rows).
 */
export abstract class PgBinaryCopyTranscoder {
  /** Rows written so far. */
  rows = 0;
  /** The trailer has been read: no row may follow. */
  protected ended = false;
  /** Where the last complete row ended in the data `writeRows` read. */
  protected consumed = 0;
  protected readonly out = new ByteOutput();
  #signatureRead = false;
  #rest: Buffer | undefined;

  /** The encoded bytes of the complete rows `chunk` ends (with what earlier chunks left), a Buffer of their own. */
  transcode(chunk: Buffer): Buffer {
    if (!this.#signatureRead) {
      const data = this.#rest === undefined ? chunk : Buffer.concat([this.#rest, chunk]);
      const start = signatureEnd(data);
      this.#rest = start === undefined ? Buffer.from(data) : undefined;
      if (start === undefined) return EMPTY;
      this.#signatureRead = true;
      chunk = data.subarray(start);
    }
    let at = this.begin();
    let i = 0;
    const rest = this.#rest;
    this.#rest = undefined;
    if (rest !== undefined) {
      // Only as much of the chunk as completes the row the last one cut: joining the whole chunk would copy every chunk once more.
      for (let take = Math.min(chunk.length, 4096); ; take = Math.min(chunk.length, take * 4)) {
        const joined = Buffer.concat([rest, chunk.subarray(0, take)]);
        at = this.writeRows(joined, 0, at, 1);
        if (this.consumed > 0) {
          i = this.consumed - rest.length;
          break;
        }
        if (take === chunk.length) {
          this.#rest = joined;
          return this.emit(at);
        }
      }
    }
    at = this.writeRows(chunk, i, at, Number.POSITIVE_INFINITY);
    if (this.consumed < chunk.length) {
      if (this.ended) throw malformedCopy('bytes after the end of the rows');
      this.#rest = Buffer.from(chunk.subarray(this.consumed));
    }
    return this.emit(at);
  }

  /** Throws unless the stream ended exactly at the end of the rows; returns the bytes still held (none, unless a subclass holds some). */
  finish(): Buffer {
    if (!this.ended || this.#rest !== undefined) throw malformedCopy('the rows ended in the middle');
    return EMPTY;
  }

  /** Writes what goes before this chunk's rows (a header, once) at the start of `out`; returns where the rows go. */
  protected begin(): number {
    return 0;
  }

  /**
   * Writes at most `limit` complete rows of `data` from `i` into `out` at `at`, moving `consumed`
   * past each; returns the output's length.
   */
  protected abstract writeRows(data: Buffer, i: number, at: number, limit: number): number;

  /**
   * At the start of a tuple at `i`: true when it is the trailer (the rows have ended, and
   * `consumed` moves past it); throws unless the tuple has `width` fields.
   */
  protected atTrailer(data: Buffer, i: number, width: number): boolean {
    const count = (data[i]! << 8) | data[i + 1]!;
    if (count === 0xffff) {
      this.ended = true;
      this.consumed = i + 2;
      return true;
    }
    if (count !== width) throw malformedCopy(`a row of ${count} columns where ${width} were expected`);
    return false;
  }

  /** The first `length` bytes written, as a Buffer of their own: `out` is written over by the next chunk. */
  protected emit(length: number): Buffer {
    return Buffer.from(this.out.buffer.subarray(0, length));
  }
}

/** Where the rows begin after the signature, flags and header extension; undefined while they have not all arrived. */
function signatureEnd(data: Buffer): number | undefined {
  if (data.length < HEADER_FIXED) return undefined;
  if (!data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw malformedCopy('no binary COPY signature');
  const start = HEADER_FIXED + data.readUInt32BE(SIGNATURE.length + 4);
  return data.length < start ? undefined : start;
}

export function malformedCopy(what: string): SluiceError {
  return new SluiceError('INTERNAL', `PostgreSQL's binary COPY sent ${what}.`);
}
