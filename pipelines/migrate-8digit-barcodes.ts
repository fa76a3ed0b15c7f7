import { definePipeline } from '../src/core/define.ts';
import {
  BARCODE_MIGRATION_PARAMS,
  barcodeMigrationPreflight,
  finishBarcodeMigration,
  padTicketBarcodes,
  ticketsToPad,
} from '../src/migrations/barcode-migration.ts';
import { sqlUpdate } from '../src/sinks/sql-update.ts';

export default definePipeline({
  name: 'migrate-8digit-barcodes',
  description: 'Pads every short numeric ticket barcode to 8 digits, batch by batch; safe to interrupt and run again',
  params: BARCODE_MIGRATION_PARAMS,
  preflight: barcodeMigrationPreflight,
  source: ticketsToPad,
  transforms: [padTicketBarcodes],
  sink: sqlUpdate({ table: 'tickets', key: 'id', columns: ['barcode', 'updated_at'], finish: finishBarcodeMigration }),
});
