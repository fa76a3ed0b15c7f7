import { csvSink, definePipeline } from 'sluice';
import { filteredTickets } from '../raffle/ticket-filters.ts';

export default definePipeline({
  name: 'export-csv',
  description: 'Tickets matching the filters, all columns, ordered by id, as CSV',
  params: {},
  source: filteredTickets(),
  transforms: [],
  sink: csvSink(),
  requireRows: { message: 'No tickets found' },
});
