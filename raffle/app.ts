import { fileURLToPath } from 'node:url';
import { defineApp } from 'sluice';
import { initTicketsTable } from './tickets.ts';

/** The raffle app's admin download routes and the pipeline each runs. */
export const ADMIN_ROUTES: Readonly<Record<string, string>> = {
  '/api/admin/tickets/number-barcode': 'number-barcode',
  '/api/admin/tickets/export-all-barcodes': 'export-all-barcodes',
  '/api/admin/tickets/export-csv': 'export-csv',
  '/api/admin/tickets/export': 'export-xlsx',
  '/api/admin/tickets/import': 'import-tickets',
};

/**
 * The raffle ticketing app, bundled with sluice as its first user and the example to copy: its
 * pipelines are `pipelines/`, its tickets schema, filters, barcode rules, demo generator and
 * migration live in this folder, and all of it reaches the framework only through `sluice`.
 */
export default defineApp({
  name: 'raffle',
  pipelines: [fileURLToPath(new URL('../pipelines/', import.meta.url))],
  defaultDatabase: 'sqlite:data/raffle.db',
  routes: ADMIN_ROUTES,
  initDatabase: initTicketsTable,
  demo: { seedPipeline: 'seed-tickets', database: 'sqlite:data/demo.db' },
});
