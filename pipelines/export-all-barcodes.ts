import { definePipeline, sqlSelect, txtSink } from 'sluice';
import { ticketColumns } from '../raffle/tickets.ts';

export default definePipeline({
  name: 'export-all-barcodes',
  description: 'Every barcode, one per line, ordered by id',
  params: {},
  source: sqlSelect({ summary: 'Barcodes by id', table: 'tickets', columns: ticketColumns('barcode'), orderBy: 'id', uniqueOrderBy: 'integer' }),
  transforms: [],
  sink: txtSink(),
});
