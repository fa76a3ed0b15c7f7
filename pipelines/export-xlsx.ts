import { definePipeline, xlsxSink } from 'sluice';
import { filteredTickets } from '../raffle/ticket-filters.ts';

export default definePipeline({
  name: 'export-xlsx',
  description: 'Tickets matching the filters, all columns, ordered by id, as an Excel workbook',
  params: {},
  source: filteredTickets(),
  transforms: [],
  sink: xlsxSink({ sheetName: 'Tickets' }),
  requireRows: { message: 'No tickets found' },
});
