import type { Pipeline } from '../core/define.ts';
import { describePipeline } from '../core/describe.ts';
import { SluiceError } from '../core/errors.ts';
import { type PipelineSet, pipelineNamed } from '../core/registry.ts';
import { flagName } from './args.ts';
import { type Command, defineCommand } from './command.ts';
import { formatTable } from './format.ts';

export function describeText(pipeline: Pipeline): string {
  const d = describePipeline(pipeline);
  const lines = [`${d.name}: ${d.description}`, '', `  source:     ${d.source}`];
  for (const t of d.transforms) lines.push(`  transform:  ${t}`);
  lines.push(`  sink:       ${d.sink}`);
  if (d.output) lines.push(`  output:     ${d.output.defaultPath} (${d.output.contentType})`);
  if (d.requireRows) lines.push('  requires:   at least one row reaching the sink (no output is created otherwise)');
  if (d.resumable?.key !== undefined) lines.push(`  resumable:  yes, by ${d.resumable.key}: a file export takes checkpoints and continues after a crash with --resume`);
  else if (d.resumable) lines.push(`  resumable:  no, ${d.resumable.why}`);
  if (d.inPlace) lines.push('  runs:       in the database, one UPDATE per page of keys (no row is loaded into Node)');
  lines.push(`  partitions: ${d.partitions.ok ? 'yes: sluice submit --partitions N cuts a run into key ranges that pg-boss workers run (PostgreSQL)' : `no: ${d.partitions.why}`}`);
  if (d.parallel && d.output?.extension === 'xlsx') lines.push('  readers:    1, or on SQLite with --parallel N up to N over key ranges of one snapshot, joined in key order (the same sheets); the run summary says how many ran and why');
  else if (d.parallel) lines.push('  readers:    1, or with --parallel N up to N over key ranges of one snapshot, joined in key order (same bytes); the run summary says how many ran and why');
  const params = d.params.map((p) => [`--${flagName(p.name)}`, p.expected, p.default === undefined ? '' : String(p.default), p.description]);
  lines.push('', formatTable(['parameter', 'accepts', 'default', 'description'], params).replace(/^/gm, '  '));
  return `${lines.join('\n')}\n`;
}

export function describeCli(pipelines: PipelineSet): Command {
  return defineCommand({
    name: 'describe',
    arguments: '<pipeline>',
    summary: 'Shows a pipeline: its stages, parameters, defaults and output.',
    options: {},
    maxPositionals: 1,
    async action({ positionals }) {
      const name = positionals[0];
      if (name === undefined) throw new SluiceError('USAGE', 'Name a pipeline: sluice describe <pipeline>. `sluice list` shows them.');
      process.stdout.write(describeText(pipelineNamed(pipelines, name)));
      return 0;
    },
  });
}
