import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { SluiceError } from '../core/errors.ts';
import type { Row } from '../core/types.ts';
import { type Database, type EncodeRequest, type SqlQuery, type StreamOptions, type UpdateTarget, type UpsertOutcome, type UpsertTarget, type WriteSession, type WriteTarget, quoteIdent } from '../core/database.ts';
import { translateDbError } from './errors.ts';
import { SqliteBatchReader } from './sqlite-batch-reader.ts';
import type { Worker } from 'node:worker_threads';
import { type EncoderThreads, SqliteEncodedReader } from './sqlite-encoded-reader.ts';
import { type Writer, openReader, openWriter } from './sqlite-connection.ts';
import type { SqliteOptions } from './sqlite-options.ts';
import { exactIntegers } from './sqlite-integers.ts';

export type { SqliteOptions } from './sqlite-options.ts';

export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  readonly label: string;
  readonly path: string;
  readonly #create: boolean;
  #writer: Writer | undefined;
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  #reader: BetterSqlite3.Database | undefined;
  readonly #readerStatements = new Map<string, BetterSqlite3.Statement>();
  #bulkWrites = false;
  /** An encoder thread idle between two slices of an export (see EncodeRequest.more). */
  #spareThread: Worker | undefined;
  readonly #threads: EncoderThreads = {
    take: () => {
      const worker = this.#spareThread;
      this.#spareThread = undefined;
      worker?.off('exit', this.#forgetSpare);
      worker?.ref();
      return worker;
    },
    keep: (worker) => {
      this.#stopSpareThread();
      // Idle, it must not keep the process alive; an exit while idle just forgets it.
      worker.unref();
      worker.once('exit', this.#forgetSpare);
      this.#spareThread = worker;
    },
  };
  readonly #forgetSpare = () => {
    this.#spareThread = undefined;
  };

  constructor(path: string, label: string, options: SqliteOptions = {}) {
    this.path = path;
    this.label = label;
    this.#create = options.create ?? false;
  }

  /** The read/write connection for small queries and writes, opened on first use. */
  connection(): BetterSqlite3.Database {
    try {
      this.#writer ??= openWriter(this.path, this.#create);
    } catch (error) {
      throw translateDbError(error, this.label);
    }
    return this.#writer.connection;
  }

  encodeRows(query: SqlQuery, request: EncodeRequest): SqliteEncodedReader {
    return new SqliteEncodedReader({ path: this.path, label: this.label, query, ...request }, this.#threads);
  }

  #stopSpareThread(): void {
    this.#spareThread?.postMessage({ type: 'stop' });
    this.#spareThread = undefined;
  }

  streamBatches(query: SqlQuery, options: StreamOptions): SqliteBatchReader {
    return new SqliteBatchReader(() => openReader(this.path), query, options.batchSize, this.label);
  }

  /**
   * Small queries run on a read-only connection of their own with a small page cache, so a
   * full-table count does not fill the writer's cache; kept open, with its statements, because
   * keyset pagination runs one query per page.
   */
  async query(query: SqlQuery): Promise<Row[]> {
    // A database opened to be created must exist before its reader can open it.
    if (this.#create) this.connection();
    try {
      this.#reader ??= openReader(this.path);
      let statement = this.#readerStatements.get(query.text);
      if (!statement) {
        statement = this.#reader.prepare(query.text).raw(true).safeIntegers(true);
        this.#readerStatements.set(query.text, statement);
      }
      return (statement.all(...query.values) as Row[]).map(exactIntegers);
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async exec(script: string): Promise<void> {
    try {
      this.connection().exec(script);
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  async change(query: SqlQuery): Promise<number> {
    try {
      this.#tuneForBulkWrites();
      return this.#prepared(query.text).run(...query.values).changes;
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  #prepared(text: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.connection().prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  async insertBatch(target: WriteTarget, rows: readonly Row[]): Promise<void> {
    const names = target.columns.map((c) => quoteIdent(c.name)).join(', ');
    const marks = target.columns.map(() => '?').join(', ');
    try {
      const insert = this.#prepared(`INSERT INTO ${quoteIdent(target.table)} (${names}) VALUES (${marks})`);
      this.connection().transaction(() => {
        for (const row of rows) insert.run(row);
      })();
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /**
   * A transaction on the one writer connection, from BEGIN IMMEDIATE (the write lock, taken at
   * once) to COMMIT or ROLLBACK; batches inside it run as savepoints (better-sqlite3 nests them).
   */
  async beginWrites(): Promise<WriteSession> {
    const db = this.connection();
    const run = (statement: string) => {
      try {
        db.exec(statement);
      } catch (error) {
        throw translateDbError(error, this.label);
      }
    };
    run('BEGIN IMMEDIATE');
    return {
      upsertBatch: (target, rows) => this.upsertBatch(target, rows),
      commit: async () => run('COMMIT'),
      // A failed COMMIT or an abort may already have ended it: roll back only a transaction still open.
      rollback: async () => {
        if (db.inTransaction) run('ROLLBACK');
      },
    };
  }

  /** Per row a prepared INSERT that leaves an existing key alone, and for `upsert` an UPDATE of those: one transaction. */
  async upsertBatch(target: UpsertTarget, rows: readonly Row[]): Promise<UpsertOutcome> {
    const names = target.columns.map((c) => quoteIdent(c.name));
    const key = target.columns.findIndex((c) => c.name === target.key);
    const table = quoteIdent(target.table);
    try {
      const insert = this.#prepared(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (${quoteIdent(target.key)}) DO NOTHING`);
      const others = names.filter((_, i) => i !== key);
      const update = target.mode === 'upsert' ? this.#prepared(`UPDATE ${table} SET ${others.map((n) => `${n} = ?`).join(', ')} WHERE ${names[key]} = ?`) : undefined;
      return this.connection().transaction(() => {
        let inserted = 0;
        let updated = 0;
        const existing: number[] = [];
        rows.forEach((row, i) => {
          if (insert.run(row).changes === 1) return void inserted++;
          if (!update) return void existing.push(i);
          update.run([...row.filter((_, at) => at !== key), row[key]]);
          updated++;
        });
        return { inserted, updated, existing };
      })();
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /**
   * A batch of scattered updates dirties hundreds of pages, and each commit appends them all to
   * the WAL: checkpointing after every 1,000 pages (the default) would copy them back and fsync
   * after nearly every batch. 25,000 pages (100 MB of WAL) cut a million-row update from ~48 s to
   * ~14 s here; the WAL is still checkpointed, and removed when the connection closes.
   */
  #tuneForBulkWrites(): void {
    if (this.#bulkWrites) return;
    this.#bulkWrites = true;
    this.connection().pragma('wal_autocheckpoint = 25000');
  }

  async updateBatch(target: UpdateTarget, rows: readonly Row[]): Promise<number> {
    const sets = target.columns.map((c) => `${quoteIdent(c.name)} = ?`).join(', ');
    try {
      this.#tuneForBulkWrites();
      const update = this.#prepared(`UPDATE ${quoteIdent(target.table)} SET ${sets} WHERE ${quoteIdent(target.key.name)} = ?`);
      return this.connection().transaction(() => {
        let changed = 0;
        // Rows are [key, ...values]; the statement binds the values first and the key last.
        for (const row of rows) changed += update.run(row.slice(1), row[0]).changes;
        return changed;
      })();
    } catch (error) {
      throw translateDbError(error, this.label);
    }
  }

  /**
   * better-sqlite3's online backup, into a part file of its own renamed when complete: a file at
   * `path` is always a whole copy, even if the process dies halfway. A failure to write it (a
   * full disk) names the backup, not the database, and leaves nothing of the copy behind.
   */
  async backup(path: string): Promise<void> {
    const part = `${path}.${randomBytes(6).toString('hex')}.part`;
    const connection = this.connection();
    try {
      mkdirSync(dirname(path), { recursive: true });
      await connection.backup(part);
      renameSync(part, path);
    } catch (error) {
      for (const suffix of ['', '-journal', '-wal', '-shm']) rmSync(`${part}${suffix}`, { force: true });
      const detail = error instanceof Error ? error.message : String(error);
      throw new SluiceError('OUTPUT_FAILED', `Cannot write the backup to ${path}: ${detail}. Nothing was changed in ${this.label}.`, { cause: error });
    }
  }

  /**
   * The writer closes last: the last connection to close checkpoints the WAL into the database
   * file and removes it. A file found in another journal mode gets it back (this needs the file
   * to ourselves: if another process has it open, it stays in WAL).
   */
  async close(): Promise<void> {
    this.#stopSpareThread();
    this.#readerStatements.clear();
    this.#reader?.close();
    this.#reader = undefined;
    this.#statements.clear();
    const writer = this.#writer;
    this.#writer = undefined;
    if (!writer) return;
    if (writer.restoreJournal) {
      try {
        writer.connection.pragma(`journal_mode = ${writer.restoreJournal}`);
      } catch {
        // busy: another connection has the file open; WAL is a valid mode to leave it in
      }
    }
    writer.connection.close();
  }
}
