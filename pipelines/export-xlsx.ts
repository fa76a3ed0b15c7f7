import { definePipeline } from '../src/core/define.ts';
import { filteredTickets } from '../src/db/ticket-filters.ts';
import { xlsxSink } from '../src/sinks/xlsx.ts';

export default definePipeline({
  name: 'export-xlsx',
  description: 'Tickets matching the filters, all columns, ordered by id, as an Excel workbook',
  params: {},
  source: filteredTickets(),
  transforms: [],
  sink: xlsxSink({ sheetName: 'Tickets' }),
  requireRows: { message: 'No tickets found' },
});
