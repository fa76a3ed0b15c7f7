import type { Pipeline } from '../../core/define.ts';
import { formatTable } from '../format.ts';

export function listText(pipelines: ReadonlyMap<string, Pipeline>): string {
  const rows = [...pipelines.values()].map((p) => [p.name, p.sink.type === 'encoder' ? p.sink.format.extension : 'database', p.description]);
  return `${formatTable(['pipeline', 'output', 'description'], rows)}\n`;
}
