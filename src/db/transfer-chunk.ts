import { type SheetOutput, type SheetRecord, recordText } from '../format/xlsx-sheet-data.ts';

/**
 * A chunk's bytes, written as they are encoded straight into a buffer that can be transferred
 * to another thread (of its own: a pooled Buffer's slab cannot be). Buffers come back from the
 * other thread to be written again: a fresh buffer per chunk, freed later by the other thread,
 * left tens of MB of this thread's malloc arena behind.
 */
export class TransferChunk implements SheetOutput {
  readonly #spare: ArrayBuffer[];
  readonly #minBytes: number;
  #buffer: Buffer | undefined;
  #length = 0;

  /** `spare`: buffers handed back, which this takes from and returns outgrown ones to. */
  constructor(spare: ArrayBuffer[], minBytes: number) {
    this.#spare = spare;
    this.#minBytes = minBytes;
  }

  get length(): number {
    return this.#length;
  }

  append(text: string): void {
    // At most 3 bytes per UTF-16 unit; a long text (a whole batch of CSV) is measured instead, so its buffer is not three times its size.
    const buffer = this.#room(text.length > 4096 ? Buffer.byteLength(text) : text.length * 3);
    this.#length += buffer.write(text, this.#length);
  }

  /** Bytes already encoded (a transcoder's output). */
  appendBytes(bytes: Uint8Array): void {
    const buffer = this.#room(bytes.length);
    buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  record(record: SheetRecord): void {
    this.append(recordText(record));
  }

  /** The bytes written since the last take, to transfer; the next append starts a new buffer. */
  take(): { bytes: ArrayBuffer; length: number } {
    const buffer = this.#room(0);
    const taken = { bytes: buffer.buffer as ArrayBuffer, length: this.#length };
    this.#buffer = undefined;
    this.#length = 0;
    return taken;
  }

  /** The current buffer, with room for `bytes` more. */
  #room(bytes: number): Buffer {
    const needed = this.#length + bytes;
    const current = this.#buffer;
    if (current && needed <= current.length) return current;
    const size = Math.max(needed, this.#minBytes, (current?.length ?? 0) * 2);
    const at = this.#spare.findIndex((spare) => spare.byteLength >= size);
    const next = at >= 0 ? Buffer.from(this.#spare.splice(at, 1)[0]!) : Buffer.allocUnsafeSlow(size);
    if (current) {
      current.copy(next, 0, 0, this.#length);
      this.#spare.push(current.buffer as ArrayBuffer);
    }
    this.#buffer = next;
    return next;
  }
}
