import { type Duplex, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';

export interface DeferredOutputOptions {
  /** The output's streams, destination last: opened on the first bytes that may go out. */
  open(): Writable[];
  /** Whether bytes may go out yet. Until then they are held: a header, while no row has reached the sink. */
  ready(): boolean;
  /** At the end, with the output never opened: the error to fail with (no rows), or undefined to open it now. */
  empty(): Error | undefined;
}

/**
 * The run's output, opened only when there is something to write. A `requireRows` run that
 * finds no row after its transforms never creates a file, and an HTTP response never leaves
 * its 404 behind a 200; and nothing is opened at all (no part file, no FIFO opened for writing)
 * before the pre-checks have passed and the first bytes exist. Held bytes are only the encoder's
 * preamble, so what is held stays small.
 */
export class DeferredOutput extends Writable {
  readonly #options: DeferredOutputOptions;
  #held: Buffer[] = [];
  #streams: Writable[] = [];
  #head: Writable | undefined;
  #done: Promise<void> | undefined;

  constructor(options: DeferredOutputOptions) {
    super({ highWaterMark: 64 * 1024 });
    this.#options = options;
  }

  #openNow(): Writable {
    const streams = this.#options.open();
    this.#streams = streams;
    const head = streams[0]!;
    this.#head = head;
    this.#done = streams.length === 1 ? finished(head) : pipeline(streams as unknown as [Duplex, ...Duplex[]]);
    this.#done.catch((error: Error) => this.destroy(error));
    for (const chunk of this.#held) head.write(chunk);
    this.#held = [];
    return head;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let head = this.#head;
    if (!head) {
      if (!this.#options.ready()) {
        this.#held.push(chunk);
        return callback();
      }
      head = this.#openNow();
    }
    if (head.write(chunk)) return callback();
    const drained = () => {
      head.off('close', closed);
      callback();
    };
    const closed = () => {
      head.off('drain', drained);
      callback(head.errored ?? new Error('The output closed before the export finished.'));
    };
    head.once('drain', drained);
    head.once('close', closed);
  }

  override _final(callback: (error?: Error | null) => void): void {
    let head = this.#head;
    if (!head) {
      const error = this.#options.empty();
      if (error) return callback(error);
      head = this.#openNow();
    }
    head.end();
    this.#done!.then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const streams = this.#streams;
    for (const stream of streams) if (!stream.destroyed) stream.destroy(error ?? undefined);
    // The run reports only once cleanup (a part file removed, a connection reset) is done.
    Promise.all(streams.map((stream) => (stream.closed ? undefined : new Promise((resolve) => stream.once('close', resolve))))).then(() => callback(error));
  }
}
