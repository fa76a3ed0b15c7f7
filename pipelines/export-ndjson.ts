import { definePipeline, ndjsonSink } from 'sluice';
import { filteredTickets } from '../raffle/ticket-filters.ts';

export default definePipeline({
  name: 'export-ndjson',
  description: 'Tickets matching the filters, all columns, ordered by id, one JSON object per line (for integrations)',
  params: {},
  source: filteredTickets(),
  transforms: [],
  sink: ndjsonSink(),
  requireRows: { message: 'No tickets found' },
});
