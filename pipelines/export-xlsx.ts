import { definePipeline } from '../src/core/define.ts';
import { TICKET_FILTERS, TICKET_FILTER_PARAMS } from '../src/db/ticket-filters.ts';
import { TICKET_COLUMNS } from '../src/db/tickets.ts';
import { xlsxSink } from '../src/sinks/xlsx.ts';
import { sqlSelect } from '../src/sources/sql-select.ts';

export default definePipeline({
  name: 'export-xlsx',
  description: 'Tickets matching the filters, all columns, ordered by id, as an Excel workbook',
  params: TICKET_FILTER_PARAMS,
  source: sqlSelect({
    summary: 'Filtered tickets by id',
    table: 'tickets',
    columns: TICKET_COLUMNS,
    orderBy: 'id',
    filters: TICKET_FILTERS,
    limitParam: 'limit',
  }),
  transforms: [],
  sink: xlsxSink({ sheetName: 'Tickets' }),
  requireRows: { message: 'No tickets found' },
});
