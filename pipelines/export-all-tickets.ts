import { definePipeline, sqlSelect, tsvSink } from 'sluice';
import { TICKET_COLUMNS } from '../raffle/tickets.ts';

export default definePipeline({
  name: 'export-all-tickets',
  description: 'Every ticket, all columns, ordered by id, as TSV with a header row',
  params: {},
  source: sqlSelect({ summary: 'All tickets by id', table: 'tickets', columns: TICKET_COLUMNS, orderBy: 'id', uniqueOrderBy: 'integer' }),
  transforms: [],
  sink: tsvSink(),
});
