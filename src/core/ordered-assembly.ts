import { randomBytes } from 'node:crypto';
import { type WriteStream, createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

export interface AssemblyOptions {
  /** Where waiting parts spill (beside the output's part file, so on the same disk). */
  readonly spillDir: string;
  /** Names the spill files: `<prefix>.<random>.<part>.spill`. */
  readonly spillPrefix?: string;
  /** Bytes one waiting part keeps in memory before it spills to its file (default 1 MiB). */
  readonly memoryBytes?: number;
}

const DEFAULT_MEMORY_BYTES = 1024 * 1024;

/** Spill files alive in this process: removed even on `process.exit` (Ctrl-C), when no destroy runs. */
const liveSpills = new Set<string>();
let exitHookInstalled = false;
function track(path: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const spill of liveSpills) rmSync(spill, { force: true });
    });
  }
  liveSpills.add(path);
}
function untrack(path: string): void {
  rmSync(path, { force: true });
  liveSpills.delete(path);
}

/**
 * One part of the output. Until its turn it is read ahead (so its reader never waits on the
 * parts before it): into memory up to a bound, then into a spill file. On its turn it gives back
 * what it holds, in order, then the rest of its source as that comes.
 */
class Part {
  readonly #memory: Buffer[] = [];
  #memoryBytes = 0;
  #spill: WriteStream | undefined;
  #spillPath: string | undefined;
  #holding: boolean;
  #ended = false;
  readonly #onData = (chunk: Buffer) => this.#hold(chunk);
  readonly #onEnd = () => (this.#ended = true);

  constructor(
    readonly source: Readable,
    hold: boolean,
    readonly options: AssemblyOptions,
    readonly spillName: string,
  ) {
    this.#holding = hold;
    if (hold) {
      source.on('data', this.#onData);
      source.once('end', this.#onEnd);
    }
  }

  #hold(chunk: Buffer): void {
    if (!this.#spill && this.#memoryBytes + chunk.length <= (this.options.memoryBytes ?? DEFAULT_MEMORY_BYTES)) {
      this.#memory.push(chunk);
      this.#memoryBytes += chunk.length;
      return;
    }
    if (!this.#spill) {
      // The output's folder may not exist yet: its file opens with the first bytes written.
      mkdirSync(this.options.spillDir, { recursive: true });
      this.#spillPath = join(this.options.spillDir, this.spillName);
      track(this.#spillPath);
      this.#spill = createWriteStream(this.#spillPath, { flags: 'wx', mode: 0o600 });
      // A spill that cannot be written (a full disk) fails the part, and so the whole output.
      this.#spill.on('error', (error) => this.source.destroy(error));
    }
    if (!this.#spill.write(chunk)) {
      this.source.pause();
      // Resumed only while still held: on its turn the part is read by its drain, never flowing unheard.
      this.#spill.once('drain', () => this.#holding && this.source.resume());
    }
  }

  /** Bytes held in memory: the chunks kept, and those queued to the spill file. */
  get heldBytes(): number {
    return this.#memoryBytes + (this.#spill?.writableLength ?? 0);
  }

  /** The part's bytes in order: what it held in memory, then its spill file, then its source's rest. */
  async *drain(): AsyncGenerator<Buffer> {
    if (this.#holding) {
      this.#holding = false;
      this.source.pause();
      this.source.removeListener('data', this.#onData);
      this.source.removeListener('end', this.#onEnd);
      yield* this.#memory.splice(0);
      this.#memoryBytes = 0;
      if (this.#spill) {
        this.#spill.end();
        await finished(this.#spill);
        for await (const chunk of createReadStream(this.#spillPath!)) yield chunk as Buffer;
        untrack(this.#spillPath!);
      }
      if (this.#ended) return;
    }
    for await (const chunk of this.source) yield chunk as Buffer;
  }

  /** Stops the source (releasing what it holds) and removes the spill file; resolves once the source has closed. */
  async dispose(error: Error | null): Promise<void> {
    this.#holding = false;
    const spill = this.#spill;
    if (spill && !spill.closed) {
      // A spill still opening would create its file after a removal now: remove it once closed.
      const closed = new Promise<void>((resolve) => spill.once('close', () => resolve()));
      spill.destroy();
      await closed;
    }
    if (this.#spillPath) untrack(this.#spillPath);
    if (this.source.closed) return;
    const closed = new Promise<void>((resolve) => this.source.once('close', () => resolve()));
    this.source.destroy(error ?? undefined);
    await closed;
  }
}

/**
 * N streams of bytes written as one, in order: the first streams straight through, the later
 * ones are read at the same time and held (bounded memory, then a spill file each) until their
 * turn. Any part's failure, or destroying the assembly, stops every part and removes every
 * spill file before the assembly closes.
 */
export class OrderedAssembly extends Readable {
  readonly #parts: Part[];
  #wanted: (() => void) | undefined;

  constructor(sources: readonly Readable[], options: AssemblyOptions) {
    super({ highWaterMark: 64 * 1024 });
    const prefix = `${options.spillPrefix ?? 'sluice'}.${randomBytes(6).toString('hex')}`;
    this.#parts = sources.map((source, i) => new Part(source, i > 0, options, `${prefix}.${i}.spill`));
    for (const source of sources) {
      source.on('error', (error: Error) => this.destroy(error));
      if (source.errored) queueMicrotask(() => this.destroy(source.errored!));
    }
    void this.#run();
  }

  /** Bytes the waiting parts hold in memory now (bounded by about `memoryBytes` plus a write buffer each). */
  get heldBytes(): number {
    return this.#parts.reduce((sum, part) => sum + part.heldBytes, 0);
  }

  async #run(): Promise<void> {
    try {
      for (const part of this.#parts) {
        for await (const chunk of part.drain()) {
          if (this.destroyed) return;
          if (!this.push(chunk)) await new Promise<void>((resolve) => (this.#wanted = resolve));
          if (this.destroyed) return;
        }
      }
      if (!this.destroyed) this.push(null);
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  override _read(): void {
    const wanted = this.#wanted;
    this.#wanted = undefined;
    wanted?.();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this._read();
    Promise.all(this.#parts.map((part) => part.dispose(error))).then(
      () => callback(error),
      () => callback(error),
    );
  }
}
