import type { PipelineSet } from '../core/registry.ts';
import { type Command, defineCommand } from './command.ts';
import { formatTable } from './format.ts';

export function listText(pipelines: PipelineSet): string {
  const rows = [...pipelines.values()].map((p) => [p.name, p.sink.type === 'encoder' ? p.sink.format.extension : 'database', p.description]);
  return `${formatTable(['pipeline', 'output', 'description'], rows)}\n`;
}

export function listCli(pipelines: PipelineSet): Command {
  return defineCommand({
    name: 'list',
    summary: 'Lists the pipelines.',
    options: {},
    async action() {
      process.stdout.write(listText(pipelines));
      return 0;
    },
  });
}
