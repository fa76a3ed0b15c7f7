import type { ImportColumn, ParamValues } from 'sluice';
import { BARCODE_LENGTH, classifyBarcode } from './barcodes.ts';
import { TICKET_COLUMNS, TICKET_STATUSES } from './tickets.ts';

const REQUIRED = new Set(['id', 'ticket_number', 'barcode', 'category', 'price_cents', 'status', 'created_at', 'updated_at']);

/** The barcode rule for new tickets, unless the run says `--no-strict-barcodes`: exactly 8 ASCII digits. */
function strictBarcode(value: unknown, params: ParamValues): string | undefined {
  if (params.strictBarcodes === false || classifyBarcode(value) === 'done') return undefined;
  return `barcode ${String(value)} is not ${BARCODE_LENGTH} digits`;
}

/**
 * The tickets table as an import fills it: the columns of the exports, required where the table
 * says NOT NULL, statuses from their list, and the 8-digit barcode rule (see strictBarcode).
 */
export function ticketImportColumns(): ImportColumn[] {
  return TICKET_COLUMNS.map((column) => ({
    ...column,
    ...(REQUIRED.has(column.name) ? { required: true } : {}),
    ...(column.name === 'status' ? { values: TICKET_STATUSES } : {}),
    ...(column.name === 'barcode' ? { check: strictBarcode } : {}),
  }));
}
