import { SluiceError, isSluiceError } from './errors.ts';
import { BATCH_SIZE_PARAM, type ParamSpecs, validateSpec } from './params.ts';
import type { PipelineDefinition, SinkSpec, SourceSpec, TransformSpec } from './types.ts';

/** The parameters a component declares (none: `{}`). */
type ParamsOf<C> = C extends { readonly params?: infer P } ? (NonNullable<P> extends ParamSpecs ? NonNullable<P> : {}) : {};
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Every parameter a pipeline takes: its own, its components', and `batchSize`. */
export type PipelineParams<P extends ParamSpecs, S, T extends readonly unknown[], K> = P &
  ParamsOf<S> &
  ParamsOf<K> &
  UnionToIntersection<ParamsOf<T[number]>> & { readonly batchSize: typeof BATCH_SIZE_PARAM };

/** A checked definition, with every parameter a run accepts (`P`, typed for front ends and `runPipeline`). */
export interface Pipeline<P extends ParamSpecs = ParamSpecs> extends PipelineDefinition {
  /** Every parameter a run accepts: the pipeline's own, its components', and `batchSize`. */
  readonly allParams: P;
}

function fail(pipeline: string, message: string): never {
  throw new SluiceError('INVALID_DEFINITION', `Pipeline "${pipeline}": ${message}`);
}

/** Names the front ends use for options of their own (`sluice run --db ... --out ...`). */
export const RESERVED_PARAMS: readonly string[] = ['batchSize', 'db', 'out', 'metrics', 'logLevel', 'help', 'connectTimeout', 'stallTimeout', 'statementTimeout', 'lock', 'lockLease', 'history', 'resume', 'checkpointRows'];

function mergeParams(def: PipelineDefinition): ParamSpecs {
  const merged: Record<string, ParamSpecs[string]> = { ...def.params };
  for (const component of [def.source, ...def.transforms, def.sink]) {
    for (const [name, spec] of Object.entries(component.params ?? {})) {
      if (Object.hasOwn(merged, name)) fail(def.name, `parameter "${name}" is declared twice (again by ${component.kind}).`);
      merged[name] = spec;
    }
  }
  for (const name of RESERVED_PARAMS) if (Object.hasOwn(merged, name)) fail(def.name, `parameter "${name}" is reserved.`);
  merged.batchSize = def.defaultBatchSize === undefined ? BATCH_SIZE_PARAM : { ...BATCH_SIZE_PARAM, default: def.defaultBatchSize };
  return merged;
}

/**
 * Validates a definition when the module is loaded, so a broken pipeline fails at `sluice list`
 * rather than halfway through a run.
 */
export function definePipeline<const P extends ParamSpecs, S extends SourceSpec, const T extends readonly TransformSpec[], K extends SinkSpec>(
  def: PipelineDefinition<P, S, T, K>,
): Pipeline<PipelineParams<P, S, T, K>> {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(def.name)) fail(def.name, 'the name must be kebab-case.');
  if (!def.description) fail(def.name, 'a description is required.');
  const allParams = mergeParams(def);
  for (const [name, spec] of Object.entries(allParams)) {
    try {
      validateSpec(name, spec);
    } catch (error) {
      if (isSluiceError(error, 'INVALID_DEFINITION')) fail(def.name, error.message);
      fail(def.name, `default of "${name}" is invalid: ${(error as Error).message}`);
    }
  }
  checkFlow(def, new Set(Object.keys(allParams)));
  // The merge above is the runtime form of PipelineParams.
  return Object.freeze({ ...def, allParams: allParams as PipelineParams<P, S, T, K> });
}

/**
 * Walks the columns from the source through the transforms to the sink, letting each component
 * check what it receives and the parameters it reads, so a typo in a pipeline file (a filter's
 * parameter, a column name) fails when the file loads, naming the pipeline and the component,
 * instead of silently exporting every row.
 */
function checkFlow(def: PipelineDefinition, names: ReadonlySet<string>): void {
  const { source, transforms, sink } = def;
  let columns = source.columns;
  const within = <T>(component: { readonly kind: string }, step: () => T): T => {
    try {
      return step();
    } catch (error) {
      if (isSluiceError(error, 'INVALID_DEFINITION')) fail(def.name, `${component.kind}: ${error.message}`);
      throw error;
    }
  };
  within(source, () => source.check?.(columns, names));
  for (const transform of transforms) {
    within(transform, () => transform.check?.(columns, names));
    columns = within(transform, () => transform.columns?.(columns) ?? columns);
  }
  within(sink, () => sink.check?.(columns, names));
}
