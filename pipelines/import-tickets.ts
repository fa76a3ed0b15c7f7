import { definePipeline, fileSource, sqlUpsert } from 'sluice';
import { ticketImportColumns } from '../raffle/ticket-import.ts';

export default definePipeline({
  name: 'import-tickets',
  description: 'Tickets from a CSV, NDJSON or XLSX file (--in) into the tickets table, each row validated; rejected rows listed with their line and reason (--rejects)',
  params: {
    strictBarcodes: { type: 'boolean', default: true, description: 'Reject barcodes that are not exactly 8 digits (--no-strict-barcodes: take them as they are)' },
  },
  source: fileSource({ columns: ticketImportColumns() }),
  transforms: [],
  sink: sqlUpsert({ table: 'tickets', key: 'id', mode: 'insert' }),
});
