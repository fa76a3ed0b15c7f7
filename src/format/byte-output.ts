import type { TextEncoding, Value } from '../core/types.ts';
import { csvField, singleColumnField } from './csv.ts';
import { tsvCell } from './tsv.ts';

/** The bytes the transcoders look for and write. */
export const QUOTE = 0x22;
export const COMMA = 0x2c;
export const NEWLINE = 0x0a;
export const RETURN = 0x0d;
export const TAB = 0x09;
export const BACKSLASH = 0x5c;
export const APOSTROPHE = 0x27;

/** Where the byte transcoders (json-rows.ts, pg-binary-rows.ts) write: a buffer that grows when a decoded value needs room. */
export class ByteOutput {
  buffer = Buffer.allocUnsafeSlow(64 * 1024);

  /** The buffer, with room for `size` bytes and its first `keep` bytes kept. */
  room(keep: number, size: number): Buffer {
    if (size <= this.buffer.length) return this.buffer;
    const next = Buffer.allocUnsafeSlow(Math.max(size, this.buffer.length * 2));
    this.buffer.copy(next, 0, 0, keep);
    this.buffer = next;
    return next;
  }

  /** Writes `value` at `start` as `field` writes it, with `rest` bytes of room after it; returns its end. */
  writeValue(value: Value, start: number, rest: number, field: FieldWriter): number {
    const text = field(value);
    const out = this.room(start, start + Buffer.byteLength(text) + rest);
    return start + out.write(text, start);
  }
}

export type FieldWriter = (value: Value) => string;

/** A column's field as encodeCsvBatch / encodeTsvBatch write it (one column of CSV as singleColumnField does). */
export function fieldWriter(encoding: TextEncoding, width: number, isText: boolean): FieldWriter {
  const options = { escapeFormulas: encoding.escapeFormulas };
  if (encoding.format !== 'csv') return (value) => tsvCell(value, isText, options);
  return width === 1 ? (value) => singleColumnField(value, isText, options) : (value) => csvField(value, isText, options);
}
