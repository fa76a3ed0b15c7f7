import type { Pipeline } from '../../core/define.ts';
import { describePipeline } from '../../core/describe.ts';
import { flagName } from '../param-options.ts';
import { formatTable } from '../format.ts';

export function describeText(pipeline: Pipeline): string {
  const d = describePipeline(pipeline);
  const lines = [`${d.name}: ${d.description}`, '', `  source:     ${d.source}`];
  for (const t of d.transforms) lines.push(`  transform:  ${t}`);
  lines.push(`  sink:       ${d.sink}`);
  if (d.output) lines.push(`  output:     ${d.output.defaultPath} (${d.output.contentType})`);
  if (d.requireRows) lines.push('  requires:   at least one matching row (no output is created otherwise)');
  if (d.inPlace) lines.push('  runs:       in the database, one UPDATE per page of keys (no row is loaded into Node)');
  const params = d.params.map((p) => [`--${flagName(p.name)}`, p.expected, p.default === undefined ? '' : String(p.default), p.description]);
  lines.push('', formatTable(['parameter', 'accepts', 'default', 'description'], params).replace(/^/gm, '  '));
  return `${lines.join('\n')}\n`;
}
