import type { RunMetrics } from './metrics.ts';
import { SluiceError } from './errors.ts';

/** A row an import would not write: where it stood in the input, why, and its values as read. */
export interface Rejection {
  /** `line 12`, `row 7 of sheet Tickets`, `batch 3`. */
  readonly where: string;
  readonly reason: string;
  /** The input's own values, by its header's names. */
  readonly values: Readonly<Record<string, unknown>>;
}

/** Where a run lists its rejected rows as they come (the CLI's `--rejects`: `rejectsFile`, a CSV file). Its opener closes it. */
export interface RejectsList {
  /** Named in the message of a run stopped by too many rejections. */
  readonly description: string;
  /** The run passed its checks: a file is created now, header only until a row is rejected (an answer too). */
  start(): void;
  add(rejection: Rejection): void;
}

export interface RejectsOptions {
  /** Also list every rejection here (see rejectsFile). */
  readonly list?: RejectsList;
  /** Stop the run (exit 3) when more rows than this are rejected; undefined: never. */
  readonly max?: number;
  /** Called for each rejection (an HTTP import answers with the first ones). */
  readonly onReject?: (rejection: Rejection) => void;
}

/** Counts the run's rejections (a warning each), lists them, and stops the run past the limit. */
export class RunRejects {
  #count = 0;

  constructor(
    private readonly metrics: RunMetrics,
    private readonly options: RejectsOptions = {},
  ) {}

  get count(): number {
    return this.#count;
  }

  add(rejection: Rejection): void {
    this.#count++;
    this.metrics.warn('rejected');
    this.options.onReject?.(rejection);
    this.options.list?.add(rejection);
    const { max, list } = this.options;
    if (max !== undefined && this.#count > max) {
      throw new SluiceError('PRECONDITION_FAILED', `More than ${max} row(s) rejected (the last: ${rejection.where}: ${rejection.reason}); the import stopped${list ? `. The rejected rows are in ${list.description}` : ''}.`);
    }
  }
}
