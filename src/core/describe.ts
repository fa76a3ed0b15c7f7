import type { Pipeline } from './define.ts';
import { notResumable } from './checkpoints.ts';
import { InPlaceUpdate } from './in-place.ts';
import { notPartitionable } from './run.ts';
import { describeExpected, type ParamSpec } from './params.ts';

export interface ParamDescription {
  readonly name: string;
  readonly type: ParamSpec['type'];
  readonly description: string;
  readonly expected: string;
  readonly default?: string | number | boolean;
  readonly values?: readonly string[];
  readonly min?: number;
  readonly max?: number;
}

export interface PipelineDescription {
  readonly name: string;
  readonly description: string;
  readonly source: string;
  readonly transforms: readonly string[];
  readonly sink: string;
  /** File extension and content type, for pipelines that produce a file. */
  readonly output?: { readonly extension: string; readonly contentType: string; readonly defaultPath: string };
  readonly requireRows: boolean;
  /** The database can run the whole pipeline itself (see in-place.ts). */
  readonly inPlace: boolean;
  /** A file export `--parallel N` can read in key ranges of one snapshot, side by side. */
  readonly parallel: boolean;
  /** An export to a file takes checkpoints and can resume after a crash (`sluice run --resume`); when not, why. */
  readonly resumable: { readonly key: string } | { readonly key?: undefined; readonly why: string } | undefined;
  /** Whether `sluice submit --partitions N` can cut its runs into key ranges for several workers; when not, why. */
  readonly partitions: { readonly ok: true } | { readonly ok: false; readonly why: string };
  readonly params: readonly ParamDescription[];
}

export function defaultOutputPath(pipeline: Pipeline): string | undefined {
  return pipeline.sink.type === 'encoder' ? `out/${pipeline.name}.${pipeline.sink.format.extension}` : undefined;
}

/** Undefined for a pipeline that writes no file (resuming does not apply). */
function resumability(pipeline: Pipeline): PipelineDescription['resumable'] {
  if (pipeline.sink.type !== 'encoder') return undefined;
  const why = notResumable(pipeline);
  return why === undefined ? { key: pipeline.source.slices!.key } : { why };
}

function partitionability(pipeline: Pipeline): PipelineDescription['partitions'] {
  const why = notPartitionable(pipeline);
  return why === undefined ? { ok: true } : { ok: false, why };
}

/** The pipeline as plain data: what `sluice describe`, `--help` and `GET /api/pipelines` show. */
export function describePipeline(pipeline: Pipeline): PipelineDescription {
  const { sink } = pipeline;
  return {
    name: pipeline.name,
    description: pipeline.description,
    source: `${pipeline.source.kind}: ${pipeline.source.summary}`,
    transforms: pipeline.transforms.map((t) => `${t.kind}: ${t.summary}`),
    sink: `${sink.kind}: ${sink.summary}`,
    output: sink.type === 'encoder' ? { ...sink.format, defaultPath: defaultOutputPath(pipeline)! } : undefined,
    requireRows: pipeline.requireRows !== undefined,
    inPlace: InPlaceUpdate.fits(pipeline),
    parallel: sink.type === 'encoder' && sink.sqlEncoding !== undefined && pipeline.transforms.length === 0 && pipeline.source.parallelEncoded === true,
    resumable: resumability(pipeline),
    partitions: partitionability(pipeline),
    params: Object.entries(pipeline.allParams).map(([name, spec]) => ({
      name,
      type: spec.type,
      description: spec.description,
      expected: describeExpected(spec),
      ...(spec.default !== undefined ? { default: spec.default } : {}),
      ...(spec.type === 'enum' ? { values: spec.values } : {}),
      ...(spec.type === 'integer' ? { min: spec.min, max: spec.max } : {}),
    })),
  };
}
