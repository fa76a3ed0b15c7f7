import { definePipeline } from '../src/core/define.ts';
import { filteredTickets } from '../src/db/ticket-filters.ts';
import { csvSink } from '../src/sinks/csv.ts';

export default definePipeline({
  name: 'export-csv',
  description: 'Tickets matching the filters, all columns, ordered by id, as CSV',
  params: {},
  source: filteredTickets(),
  transforms: [],
  sink: csvSink(),
  requireRows: { message: 'No tickets found' },
});
