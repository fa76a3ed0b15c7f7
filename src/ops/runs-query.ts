import type { ParamSpecs, ParamValues } from '../core/params.ts';
import { RUN_STATUSES, type RunFilter, type RunStatus } from './run-history.ts';

/** The filters of a run listing: `sluice runs` flags and `GET /api/runs` query parameters alike. */
export const RUNS_QUERY = {
  pipeline: { type: 'string', accepts: 'a pipeline name', description: 'Only runs of this pipeline' },
  job: { type: 'string', accepts: 'a job name', description: 'Only runs of this scheduled job' },
  status: { type: 'enum', values: RUN_STATUSES, description: 'Only runs that ended (or stand) so' },
  limit: { type: 'integer', min: 1, max: 10_000, default: 20, description: 'How many, newest first' },
} as const satisfies ParamSpecs;

export function runFilter(values: ParamValues): RunFilter {
  return {
    pipeline: values.pipeline as string | undefined,
    job: values.job as string | undefined,
    status: values.status as RunStatus | undefined,
    limit: values.limit as number,
  };
}
