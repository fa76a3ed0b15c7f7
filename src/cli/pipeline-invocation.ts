import type { Pipeline } from '../core/define.ts';
import { SluiceError } from '../core/errors.ts';
import type { ParamSpecs } from '../core/params.ts';
import { type PipelineSet, pipelineNamed } from '../core/registry.ts';
import { type CommandLine, flagName } from './args.ts';
import { type Invocation, invocation, optionsTable } from './command.ts';
import { describeText } from './describe.ts';

/** The index of the first word that is not an option or an option's value: the pipeline's name, wherever it stands. */
export function pipelineArgument(args: readonly string[], known: PipelineSet, options: ParamSpecs): number | undefined {
  // `--lock` takes its value only as `--lock=NAME`: alone, it names the pipeline's own lock.
  const valueFlags = new Set(Object.keys(options).filter((name) => name !== 'lock').map((name) => `--${flagName(name)}`));
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') return i + 1 < args.length ? i + 1 : undefined;
    if (!word.startsWith('--') || word.length === 2) {
      if (word.startsWith('-') && word !== '-') continue;
      return i;
    }
    if (word.includes('=')) continue;
    const next = args[i + 1];
    // A pipeline's own flags are not known yet: one followed by a word that is not a pipeline's name takes it as its value.
    if (next !== undefined && !next.startsWith('--') && (valueFlags.has(word) || !known.has(next))) i++;
  }
  return undefined;
}

/** A command that takes a pipeline and its parameters as flags: `sluice run`, `sluice submit`. */
export interface PipelineVerb {
  readonly verb: string;
  readonly summary: string;
  readonly options: ParamSpecs;
  /** A word of the command line as the verb reads it, once the pipeline is known (`run` turns `--lock` into `--lock=<pipeline>`). */
  readonly rewrite?: (word: string, pipeline: Pipeline) => string;
}

function usage({ verb, summary, options }: PipelineVerb, pipeline: Pipeline | undefined): string {
  const head = `Usage: sluice ${verb} ${pipeline?.name ?? '<pipeline>'} [parameters] [options]\n\n`;
  return `${head}${pipeline ? describeText(pipeline) : `${summary}\n`}\nOptions:\n${optionsTable(options)}\n`;
}

/**
 * `sluice <verb> <pipeline> [parameters]`: the pipeline, named anywhere among the flags, and the
 * flags read as its parameters and the verb's options; undefined when help was asked (and printed).
 */
export function pipelineInvocation(spec: PipelineVerb, args: readonly string[], pipelines: PipelineSet): { readonly pipeline: Pipeline; readonly line: CommandLine & Invocation } | undefined {
  const at = pipelineArgument(args, pipelines, spec.options);
  const name = at === undefined ? undefined : args[at];
  const wantsHelp = args.includes('--help') || args.includes('-h');
  if (name === undefined && wantsHelp) return void process.stdout.write(usage(spec, undefined));
  if (name === undefined) throw new SluiceError('USAGE', `Name the pipeline to ${spec.verb}: sluice ${spec.verb} <pipeline> [parameters]. \`sluice list\` shows them.`);
  const pipeline = pipelineNamed(pipelines, name);
  const rest = args.filter((_, i) => i !== at).map((word) => spec.rewrite?.(word, pipeline) ?? word);
  const line = invocation(`sluice ${spec.verb} ${pipeline.name} --help`, rest, { ...pipeline.allParams, ...spec.options });
  if (line.help) return void process.stdout.write(usage(spec, pipeline));
  if (line.positionals.length > 0) {
    throw new SluiceError('USAGE', `Unexpected argument "${line.positionals[0]}": a pipeline's parameters are flags (see \`sluice ${spec.verb} ${pipeline.name} --help\`).`);
  }
  return { pipeline, line };
}
