import { definePipeline } from '../src/core/define.ts';
import { TICKET_COLUMNS } from '../src/db/tickets.ts';
import { tsvSink } from '../src/sinks/tsv.ts';
import { sqlSelect } from '../src/sources/sql-select.ts';

export default definePipeline({
  name: 'export-all-tickets',
  description: 'Every ticket, all columns, ordered by id, as TSV with a header row',
  params: {},
  source: sqlSelect({ summary: 'All tickets by id', table: 'tickets', columns: TICKET_COLUMNS, orderBy: 'id' }),
  transforms: [],
  sink: tsvSink(),
});
