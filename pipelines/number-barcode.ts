import { definePipeline } from '../src/core/define.ts';
import { ticketColumns } from '../src/db/tickets.ts';
import { csvSink } from '../src/sinks/csv.ts';
import { sqlSelect } from '../src/sources/sql-select.ts';

export default definePipeline({
  name: 'number-barcode',
  description: 'Ticket number and barcode of every ticket, ordered by id, as CSV',
  params: {},
  source: sqlSelect({ summary: 'Ticket numbers and barcodes by id', table: 'tickets', columns: ticketColumns('ticket_number', 'barcode'), orderBy: 'id' }),
  transforms: [],
  sink: csvSink(),
});
