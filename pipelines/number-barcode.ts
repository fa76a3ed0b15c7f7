import { csvSink, definePipeline, sqlSelect } from 'sluice';
import { ticketColumns } from '../raffle/tickets.ts';

export default definePipeline({
  name: 'number-barcode',
  description: 'Ticket number and barcode of every ticket, ordered by id, as CSV',
  params: {},
  source: sqlSelect({ summary: 'Ticket numbers and barcodes by id', table: 'tickets', columns: ticketColumns('ticket_number', 'barcode'), orderBy: 'id', uniqueOrderBy: 'integer' }),
  transforms: [],
  sink: csvSink(),
});
