import { randomBytes } from 'node:crypto';
import { type WriteStream, createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { SluiceError } from './errors.ts';

export interface AssemblyOptions {
  /** Where waiting parts spill (beside the output's part file, so on the same disk). */
  readonly spillDir: string;
  /** Names the spill files: `<prefix>.<random>.<part>.spill`. */
  readonly spillPrefix?: string;
  /** Bytes one waiting part keeps in memory before it spills to its file (default 1 MiB). */
  readonly memoryBytes?: number;
  /**
   * How far waiting parts read past their memory bound, into spill files: `idle`, in proportion
   * to the time the assembly waits on its current part (see READ_AHEAD_BYTES_PER_IDLE_MS);
   * `always`, as fast as their readers go; `never`, they wait at the bound. Default: `idle` when
   * the machine has cores beyond the two that the part being written keeps busy (this thread,
   * which writes it, and its reader: a backend, a worker thread), else `never`: on two cores a
   * part read ahead takes them from the part being written (measured: see bench/RESULTS.md).
   * SLUICE_READ_AHEAD overrides the default.
   */
  readonly readAhead?: ReadAhead;
}

export type ReadAhead = 'idle' | 'always' | 'never';
const READ_AHEAD_MODES: readonly string[] = ['idle', 'always', 'never'] satisfies ReadAhead[];

const DEFAULT_MEMORY_BYTES = 1024 * 1024;

/** AssemblyOptions.readAhead's default: SLUICE_READ_AHEAD if set (a USAGE error if unknown), else by the machine's cores. */
export function readAheadByDefault(): ReadAhead {
  const asked = process.env.SLUICE_READ_AHEAD;
  if (asked === undefined || asked === '') return availableParallelism() > 2 ? 'idle' : 'never';
  if (READ_AHEAD_MODES.includes(asked)) return asked as ReadAhead;
  throw new SluiceError('USAGE', `SLUICE_READ_AHEAD must be one of ${READ_AHEAD_MODES.join(', ')}, not "${asked}"; unset it for the default.`);
}

/**
 * Bytes the waiting parts may read ahead past their memory bound for each millisecond the
 * assembly waited on its current part: about what this thread writes in a millisecond. Reading
 * ahead takes this thread's time (a part's bytes are made here, then spilled and read back), so
 * it is paid for with time this thread would otherwise spend idle. Where the database is the
 * slow side the parts read ahead all along; where this thread is, they wait at their bound
 * instead of spilling work it must do anyway (see bench/RESULTS.md).
 */
const READ_AHEAD_BYTES_PER_IDLE_MS = 100 * 1024;

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

/** Chunks a source may have queued before it is paused. */
const QUEUED_CHUNKS = 4;

/**
 * A source's chunks one by one, with backpressure, calling `waiting` when it has none yet (and
 * what that returns when one comes). Read flowing: a paused stream's `read()` (and its async
 * iterator) joins all it holds into one new Buffer, a copy of every byte of the output, whose
 * garbage made a two-part PostgreSQL export collect its whole heap 30 times instead of 3.
 */
async function* chunksOf(source: Readable, waiting: () => () => void): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= QUEUED_CHUNKS) source.pause();
    wake?.();
  };
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onClose = () => {
    failure ??= source.errored ?? (ended ? undefined : new Error('A part of the output closed before its end.'));
    wake?.();
  };
  const onError = (error: Error) => {
    failure ??= error;
    wake?.();
  };
  source.on('data', onData);
  source.once('end', onEnd);
  source.once('close', onClose);
  source.once('error', onError);
  if (source.errored || (source.destroyed && !source.readableEnded)) onClose();
  source.resume();
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk) {
        if (queue.length < QUEUED_CHUNKS) source.resume();
        yield chunk;
        continue;
      }
      if (failure) throw failure;
      if (ended || source.readableEnded) return;
      const waited = waiting();
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      waited();
    }
  } finally {
    // Stopped early (the assembly is being destroyed): nothing may flow on unheard.
    source.pause();
    source.removeListener('data', onData);
    source.removeListener('end', onEnd);
    source.removeListener('close', onClose);
    source.removeListener('error', onError);
  }
}

/**
 * One part of the output. Until its turn it is read ahead (so its reader need not wait on the
 * parts before it): into memory up to a bound, then into a spill file as far as it is allowed
 * (see AssemblyOptions.readAhead), else it waits at the bound. On its turn it gives back what it
 * holds, in order, then the rest of its source as that comes.
 */
class Part {
  readonly #memory: Buffer[] = [];
  #memoryBytes = 0;
  #spill: WriteStream | undefined;
  #spillPath: string | undefined;
  #holding: boolean;
  /** Bytes it may still read past its memory bound; at none it waits at the bound (see READ_AHEAD_BYTES_PER_IDLE_MS). */
  #allowance = 0;
  #parked = false;
  #spillFull = false;
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
    // A chunk a destroyed source still emits: the part is being disposed of, nothing may be created for it.
    if (!this.#holding) return;
    const bound = this.options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
    if (!this.#spill && (this.#memoryBytes + chunk.length <= bound || this.#allowance <= 0)) {
      this.#memory.push(chunk);
      this.#memoryBytes += chunk.length;
      // At the bound without an allowance: the part waits (one chunk past its bound) instead of spilling.
      if (this.#memoryBytes >= bound && this.#allowance <= 0) this.#park();
      return;
    }
    this.#allowance -= chunk.length;
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
      this.#spillFull = true;
      this.source.pause();
      this.#spill.once('drain', () => {
        this.#spillFull = false;
        this.#resumeIfFree();
      });
    }
    if (this.#allowance <= 0) this.#park();
  }

  #park(): void {
    this.#parked = true;
    this.source.pause();
  }

  /** Resumed only while still held: on its turn the part is read by its drain, never flowing unheard. */
  #resumeIfFree(): void {
    if (this.#holding && !this.#parked && !this.#spillFull) this.source.resume();
  }

  /** Lets the part read `bytes` more past its memory bound (into its spill file). */
  allow(bytes: number): void {
    if (!this.#holding) return;
    this.#allowance += bytes;
    if (this.#allowance <= 0) return;
    this.#parked = false;
    this.#resumeIfFree();
  }

  /** Bytes held in memory: the chunks kept, and those queued to the spill file. */
  get heldBytes(): number {
    return this.#memoryBytes + (this.#spill?.writableLength ?? 0);
  }

  /**
   * The part's bytes in order: what it held in memory, then its spill file, then its source's
   * rest; `waiting` is told each time the source has nothing yet, and its return when it has.
   */
  async *drain(waiting: () => () => void): AsyncGenerator<Buffer> {
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
    yield* chunksOf(this.source, waiting);
  }

  /** Stops the source (releasing what it holds) and removes the spill file; resolves once the source has closed. */
  async dispose(error: Error | null): Promise<void> {
    this.#holding = false;
    this.source.removeListener('data', this.#onData);
    this.source.removeListener('end', this.#onEnd);
    this.source.pause();
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
 * ones are read at the same time and held (bounded memory, then a spill file each, as far as
 * `readAhead` allows) until their turn. Any part's failure, or destroying the assembly, stops
 * every part and removes every spill file before the assembly closes.
 */
export class OrderedAssembly extends Readable {
  readonly #parts: Part[];
  readonly #readAhead: ReadAhead;
  #wanted: (() => void) | undefined;

  constructor(sources: readonly Readable[], options: AssemblyOptions) {
    super({ highWaterMark: 64 * 1024 });
    this.#readAhead = options.readAhead ?? readAheadByDefault();
    const prefix = `${options.spillPrefix ?? 'sluice'}.${randomBytes(6).toString('hex')}`;
    this.#parts = sources.map((source, i) => new Part(source, i > 0, options, `${prefix}.${i}.spill`));
    if (this.#readAhead === 'always') for (const part of this.#parts) part.allow(Infinity);
    for (const source of sources) {
      source.on('error', (error: Error) => this.destroy(error));
      if (source.errored) queueMicrotask(() => this.destroy(source.errored!));
    }
    void this.#run();
  }

  /** Bytes the waiting parts hold in memory now (bounded by about `memoryBytes` plus a chunk and a write buffer each). */
  get heldBytes(): number {
    return this.#parts.reduce((sum, part) => sum + part.heldBytes, 0);
  }

  async #run(): Promise<void> {
    try {
      for (const [i, part] of this.#parts.entries()) {
        for await (const chunk of part.drain(() => this.#waitingOn(i))) {
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

  /**
   * The assembly waits on part `current`: once the wait ends, the parts after it may read ahead
   * in proportion to its length (READ_AHEAD_BYTES_PER_IDLE_MS).
   */
  #waitingOn(current: number): () => void {
    const later = this.#parts.slice(current + 1);
    if (later.length === 0 || this.#readAhead !== 'idle') return () => undefined;
    const started = performance.now();
    return () => {
      const share = ((performance.now() - started) * READ_AHEAD_BYTES_PER_IDLE_MS) / later.length;
      for (const part of later) part.allow(share);
    };
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
