import { definePipeline, sqlUpdate } from 'sluice';
import {
  BARCODE_MIGRATION_PARAMS,
  barcodeMigrationPreflight,
  finishBarcodeMigration,
  padTicketBarcodes,
  ticketsToPad,
} from '../raffle/barcode-migration.ts';

export default definePipeline({
  name: 'migrate-8digit-barcodes',
  description: 'Pads every short numeric ticket barcode to 8 digits, batch by batch; safe to interrupt and run again',
  params: BARCODE_MIGRATION_PARAMS,
  preflight: barcodeMigrationPreflight,
  source: ticketsToPad,
  transforms: [padTicketBarcodes],
  sink: sqlUpdate({ table: 'tickets', key: 'id', columns: ['barcode', 'updated_at'], finish: finishBarcodeMigration }),
});
