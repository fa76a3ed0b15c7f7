import { SluiceError, isSluiceError } from './errors.ts';
import { BATCH_SIZE_PARAM, type ParamSpecs, validateSpec } from './params.ts';
import type { PipelineDefinition } from './types.ts';

export interface Pipeline extends PipelineDefinition {
  /** Every parameter a run accepts: the pipeline's own, its components', and `batchSize`. */
  readonly allParams: ParamSpecs;
}

function fail(pipeline: string, message: string): never {
  throw new SluiceError('INVALID_DEFINITION', `Pipeline "${pipeline}": ${message}`);
}

function mergeParams(def: PipelineDefinition): ParamSpecs {
  const merged: Record<string, ParamSpecs[string]> = { ...def.params };
  for (const component of [def.source, ...def.transforms, def.sink]) {
    for (const [name, spec] of Object.entries(component.params ?? {})) {
      if (Object.hasOwn(merged, name)) fail(def.name, `parameter "${name}" is declared twice (again by ${component.kind}).`);
      merged[name] = spec;
    }
  }
  if (Object.hasOwn(merged, 'batchSize')) fail(def.name, 'parameter "batchSize" is reserved.');
  merged.batchSize = def.defaultBatchSize === undefined ? BATCH_SIZE_PARAM : { ...BATCH_SIZE_PARAM, default: def.defaultBatchSize };
  return merged;
}

/**
 * Validates a definition when the module is loaded, so a broken pipeline fails at `sluice list`
 * rather than halfway through a run.
 */
export function definePipeline(def: PipelineDefinition): Pipeline {
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
  if (def.requireRows && !def.source.count) fail(def.name, `requireRows needs a source that can count (${def.source.kind} cannot).`);
  return Object.freeze({ ...def, allParams });
}
