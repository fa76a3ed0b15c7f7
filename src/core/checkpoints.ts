import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Pipeline } from './define.ts';
import type { ParamValues } from './params.ts';

/**
 * Rows between two checkpoints when the front end does not say (`--checkpoint-rows`). Each slice
 * is a read of its own, and on a busy two-core machine the slices of a fast export cost far more
 * than their round trips: PostgreSQL CSV, 1,000,000 rows, medians of 8 interleaved runs, 2.43 s
 * at 250,000 rows a slice, 2.24 s at 1,000,000 (one slice and a checkpoint), 2.06 s with none
 * (bench/RESULTS.md, "Checkpoint interval"). A crash still loses at most a few seconds of work.
 */
export const DEFAULT_CHECKPOINT_ROWS = 1_000_000;

/** What a run asks of checkpoints: how often, and whether to continue an interrupted export. */
export interface CheckpointOptions {
  /** Rows per slice; 0 turns checkpoints off (one read of the whole export). */
  readonly everyRows: number;
  readonly resume: boolean;
}

/**
 * What an export is, for a resume to check that it continues the same one: the pipeline, its
 * parameters, the database and the output. A difference in any of them would splice two
 * different exports into one file.
 */
export interface ExportIdentity {
  readonly pipeline: string;
  /** The validated parameters that decide the bytes (batchSize does not). */
  readonly params: ParamValues;
  /** The database's label (its URL without credentials). */
  readonly database: string;
  /** The ordering key the slices follow. */
  readonly key: string;
}

/** Where an export stands at a checkpoint: every row up to `lastKey` is in the file, nothing after. */
export interface CheckpointPosition {
  /** The last key written, as text; undefined before the first slice. */
  readonly lastKey: string | undefined;
  /** Source rows read so far (a limit counts these). */
  readonly rows: number;
}

/**
 * A file written slice by slice. At each checkpoint what was written is made durable, then the
 * position is recorded next to it; a resume cuts the file back to its length at the last
 * checkpoint and goes on from there.
 */
export interface SlicedOutput {
  /** The position to continue from (a resume), or undefined (from the start). */
  readonly resumed: CheckpointPosition | undefined;
  /** Streams for one slice's bytes, the destination last; the destination leaves the file open when it ends. */
  slice(): Writable[];
  /** Records `position` at the file's length now, once what was written is on disk; the next slice may be written meanwhile. */
  checkpoint(position: CheckpointPosition): Promise<void>;
  /** After the last slice: the file replaces the output, the checkpoint goes. */
  commit(): Promise<void>;
  /** After a failure: releases the file, and removes it with its checkpoint (a crash is what leaves them behind). */
  discard(): Promise<void>;
}

/** A database's label as an identity: a SQLite file by its absolute path, so `sqlite:t.db` and `sqlite:./t.db` are one database. */
export function databaseIdentity(label: string): string {
  const path = label.startsWith('sqlite:') ? label.slice('sqlite:'.length) : undefined;
  return path === undefined || path === ':memory:' ? label : `sqlite:${resolve(path)}`;
}

/** The parameters that make up an export's identity. */
export function identityParams(params: ParamValues): ParamValues {
  const { batchSize: _ignored, ...rest } = params;
  return rest;
}

/** Why a resume may not take a checkpoint: each difference named, saved value against given. Empty when it may. */
export function identityDifferences(saved: ExportIdentity, current: ExportIdentity): string[] {
  const differences: string[] = [];
  const show = (value: unknown) => (value === undefined ? '(not given)' : JSON.stringify(value));
  if (saved.pipeline !== current.pipeline) differences.push(`pipeline: ${show(saved.pipeline)} then, ${show(current.pipeline)} now`);
  if (saved.database !== current.database) differences.push(`database: ${show(saved.database)} then, ${show(current.database)} now`);
  if (saved.key !== current.key) differences.push(`ordering key: ${show(saved.key)} then, ${show(current.key)} now`);
  const names = [...new Set([...Object.keys(saved.params), ...Object.keys(current.params)])].sort();
  for (const name of names) {
    const then = saved.params[name];
    const now = current.params[name];
    if (then !== now) differences.push(`parameter ${name}: ${show(then)} then, ${show(now)} now`);
  }
  return differences;
}

/** Why a pipeline cannot resume, or undefined when it can (the text `sluice describe` and a refused --resume show). */
export function notResumable(pipeline: Pipeline): string | undefined {
  const { sink, source } = pipeline;
  if (sink.type !== 'encoder') return 'it writes to a database, not a file';
  if (!sink.sliceable) return `its ${sink.format.extension.toUpperCase()} output cannot be continued (a run starts it from the beginning)`;
  if (!source.slices) return 'its source has no unique ordering key to continue after';
  return undefined;
}
