import { definePipeline, sqlInsert } from 'sluice';
import { demoTickets } from '../raffle/demo-tickets.ts';

export default definePipeline({
  name: 'seed-tickets',
  description: 'Generates demo tickets into the database (creates the tickets table if needed)',
  params: {},
  source: demoTickets(),
  transforms: [],
  sink: sqlInsert({ table: 'tickets' }),
  createsDatabase: true,
  // A transaction per 5,000 rows: commits, not row inserts, dominate smaller batches.
  defaultBatchSize: 5000,
});
