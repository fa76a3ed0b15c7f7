/** PostgreSQL's binary COPY bytes, built by hand for the transcoders' pure tests. */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
export const EPOCH_2000_MS = Date.UTC(2000, 0, 1);

/** A cell as binary COPY sends it: text bytes, or a timestamp's microseconds since 2000. */
export type Cell = string | bigint | null;

/** Binary COPY bytes as PostgreSQL writes them (signature, flags, an empty header extension, tuples, trailer). */
export function binaryCopy(rows: readonly Cell[][], extension = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [SIGNATURE, Buffer.from([0, 0, 0, 0]), int32(extension.length), extension];
  for (const row of rows) {
    parts.push(Buffer.from([row.length >> 8, row.length & 0xff]));
    for (const cell of row) {
      if (cell === null) parts.push(int32(-1));
      else if (typeof cell === 'bigint') {
        const value = Buffer.alloc(8);
        value.writeBigInt64BE(cell);
        parts.push(int32(8), value);
      } else {
        const bytes = Buffer.from(cell, 'utf8');
        parts.push(int32(bytes.length), bytes);
      }
    }
  }
  parts.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(parts);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

export function micros(iso: string): bigint {
  return BigInt(Date.parse(iso) - EPOCH_2000_MS) * 1000n;
}

/** Feeds `input` to `transcode` in pieces `cut(at)` long, then `finish`; returns all the bytes. */
export function inPieces(transcoder: { transcode(chunk: Buffer): Buffer; finish(): Buffer }, input: Buffer, cut: (at: number) => number): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const end = Math.min(input.length, at + cut(at));
    out.push(transcoder.transcode(input.subarray(at, end)));
    at = end;
  }
  out.push(transcoder.finish());
  return Buffer.concat(out);
}
