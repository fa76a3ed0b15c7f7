import { definePipeline } from '../src/core/define.ts';
import { ticketColumns } from '../src/db/tickets.ts';
import { txtSink } from '../src/sinks/txt.ts';
import { sqlSelect } from '../src/sources/sql-select.ts';

export default definePipeline({
  name: 'export-all-barcodes',
  description: 'Every barcode, one per line, ordered by id',
  params: {},
  source: sqlSelect({ summary: 'Barcodes by id', table: 'tickets', columns: ticketColumns('barcode'), orderBy: 'id' }),
  transforms: [],
  sink: txtSink(),
});
