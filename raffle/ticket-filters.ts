import { sqlSelect } from 'sluice';
import type { Filter, ParamSpecs, SourceSpec } from 'sluice';
import { TICKET_COLUMNS, TICKET_STATUSES } from './tickets.ts';

/** The filters the app's admin exports offer (CSV and Excel share them). */
export const TICKET_FILTER_PARAMS = {
  status: { type: 'enum', values: TICKET_STATUSES, description: 'Only tickets with this status' },
  category: { type: 'string', maxLength: 100, description: 'Only tickets of this category' },
  seller: { type: 'string', maxLength: 200, description: 'Only tickets sold by this seller' },
  soldFrom: { type: 'date', description: 'Only tickets sold on or after this date (YYYY-MM-DD, UTC)' },
  soldTo: { type: 'date', description: 'Only tickets sold on or before this date (YYYY-MM-DD, UTC)' },
  q: { type: 'string', maxLength: 200, description: 'Case-insensitive text in ticket number, buyer name or buyer email' },
  limit: { type: 'integer', min: 1, max: 100_000_000, description: 'Export at most this many tickets (exactly this many when there are enough)' },
} as const satisfies ParamSpecs;

export const TICKET_FILTERS: readonly Filter[] = [
  { op: 'equals', param: 'status', column: 'status' },
  { op: 'equals', param: 'category', column: 'category' },
  { op: 'equals', param: 'seller', column: 'seller' },
  { op: 'onOrAfterDate', param: 'soldFrom', column: 'sold_at' },
  { op: 'onOrBeforeDate', param: 'soldTo', column: 'sold_at' },
  { op: 'contains', param: 'q', columns: ['ticket_number', 'buyer_name', 'buyer_email'] },
];

/** All ticket columns by id, narrowed by the admin filters: the source of the CSV and Excel exports. */
export function filteredTickets(): SourceSpec<typeof TICKET_FILTER_PARAMS> {
  return sqlSelect({
    summary: 'Tickets matching the filters, by id',
    table: 'tickets',
    columns: TICKET_COLUMNS,
    orderBy: 'id',
    uniqueOrderBy: 'integer',
    filters: TICKET_FILTERS,
    limitParam: 'limit',
    params: TICKET_FILTER_PARAMS,
  });
}
