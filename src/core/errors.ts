import type { RunSummary } from './metrics.ts';

/**
 * The one error type sluice throws. `code` is stable (scripts and HTTP handlers branch on it);
 * `message` says what went wrong and what to do; a driver's own error stays in `cause`.
 */
export const ERROR_CODES = {
  INVALID_DEFINITION: { exitCode: 2, httpStatus: 500 },
  INVALID_PARAM: { exitCode: 2, httpStatus: 400 },
  USAGE: { exitCode: 2, httpStatus: 400 },
  UNKNOWN_PIPELINE: { exitCode: 2, httpStatus: 404 },
  INVALID_DATABASE_URL: { exitCode: 2, httpStatus: 500 },
  NO_ROWS: { exitCode: 3, httpStatus: 404 },
  PRECONDITION_FAILED: { exitCode: 3, httpStatus: 409 },
  DATABASE_UNREACHABLE: { exitCode: 1, httpStatus: 503 },
  MISSING_TABLE: { exitCode: 1, httpStatus: 500 },
  QUERY_FAILED: { exitCode: 1, httpStatus: 500 },
  /** A file or stream a source reads is missing, unreadable or malformed. */
  INPUT_FAILED: { exitCode: 1, httpStatus: 500 },
  /** An import's request body is larger than the server takes. */
  INPUT_TOO_LARGE: { exitCode: 1, httpStatus: 413 },
  OUTPUT_FAILED: { exitCode: 1, httpStatus: 500 },
  /** The reader of stdout went away (`| head`): like any Unix filter, stop quietly with SIGPIPE's status. */
  OUTPUT_CLOSED: { exitCode: 141, httpStatus: 499 },
  CONNECTION_LOST: { exitCode: 1, httpStatus: 500 },
  /** Nothing moved for too long: a stalled server, network or client (see the timeouts in the README). */
  TIMEOUT: { exitCode: 1, httpStatus: 504 },
  ABORTED: { exitCode: 130, httpStatus: 499 },
  /** Another run holds the run's lock (`--lock`, a scheduled job): try again later. 75 is EX_TEMPFAIL. */
  LOCKED: { exitCode: 75, httpStatus: 409 },
  /** The run's lock was lost while it ran (its connection dropped, its lease taken over): it stopped so two runs never overlap. */
  LOCK_LOST: { exitCode: 1, httpStatus: 500 },
  /** A partition of a partitioned run (`sluice submit --partitions`) failed after its retries: nothing was assembled. */
  PARTITION_FAILED: { exitCode: 1, httpStatus: 500 },
  INTERNAL: { exitCode: 1, httpStatus: 500 },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class SluiceError extends Error {
  override readonly name = 'SluiceError';
  readonly code: ErrorCode;
  /** Set on errors thrown by a run: its metrics up to the failure. */
  summary?: RunSummary;
  /** INVALID_PARAM: the parameter at fault, as declared (a form can show the error beside its field). */
  readonly param?: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; param?: string }) {
    super(message, options);
    this.code = code;
    if (options?.param !== undefined) this.param = options.param;
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code].httpStatus;
  }
}

export function isSluiceError(error: unknown, code?: ErrorCode): error is SluiceError {
  return error instanceof SluiceError && (code === undefined || error.code === code);
}

/** Keeps a SluiceError as it is; wraps anything else so callers only ever see one error type. */
export function toSluiceError(error: unknown, code: ErrorCode = 'INTERNAL', context?: string): SluiceError {
  if (error instanceof SluiceError) return error;
  if (isAbortError(error)) return new SluiceError('ABORTED', 'The run was aborted.', { cause: error });
  const detail = error instanceof Error ? error.message : String(error);
  return new SluiceError(code, context ? `${context}: ${detail}` : detail, { cause: error });
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR');
}
