import { SluiceError } from '../core/errors.ts';
import type { ParamValue } from '../core/params.ts';
import type { KeySlice } from '../core/types.ts';
import { parseDatabaseUrl, redactUrl } from '../db/url.ts';

/** One partition of a partitioned run, as a job on the partition queue. */
export interface PartitionJob {
  readonly pipeline: string;
  /** As submitted (JSON values); the partition parses them again, as any run does. */
  readonly params: Readonly<Record<string, Exclude<ParamValue, undefined>>>;
  /** The run's database (PostgreSQL), as the coordinator reached it. */
  readonly db: string;
  /** An export's snapshot, which every partition reads, exported and held open by the coordinator. */
  readonly snapshot?: string;
  readonly slice: KeySlice;
  /** 0-based; partition 0 writes the preamble and header. */
  readonly index: number;
  readonly of: number;
  /** An export's part file, in the shared output directory. */
  readonly out?: string;
  /** When the whole run started (ISO 8601): an update stamps it on every row it changes. */
  readonly startedAt: string;
  /** The coordinating run's id: the partitions' history rows name it. */
  readonly runId: string;
  readonly submittedBy: string;
}

/** What a finished partition reports; the assembly checks its file against it. */
export interface PartitionResult {
  readonly runId: string;
  readonly rows: number;
  readonly bytes: number;
}

/** One partition's state, in the coordinator's result (for `submit --wait --json` and the API). */
export interface PartitionState {
  readonly index: number;
  readonly job: string;
  readonly state: string;
  readonly attempts: number;
  readonly rows?: number;
  readonly bytes?: number;
}

/** Only PostgreSQL gives several processes one snapshot (and writers their own connections). */
export function checkSnapshotDatabase(url: string): void {
  if (parseDatabaseUrl(url).dialect === 'postgres') return;
  throw new SluiceError('USAGE', `A partitioned run reads one PostgreSQL snapshot from several workers; ${redactUrl(url)} is not PostgreSQL: run it without partitions.`);
}
