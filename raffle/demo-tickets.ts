import { Readable } from 'node:stream';
import { SluiceError } from 'sluice';
import type { ParamSpecs, Row, SourceSpec } from 'sluice';
import { TICKET_COLUMNS, initTicketsTable } from './tickets.ts';

const FIRST = ['Ana', 'Ben', 'Chloé', 'Dmitri', 'Eve', 'François', 'Grace', 'Hiro', 'Ingrid', 'José', 'Kai', 'Lena', 'Zoë', 'Ōta', 'Siobhán'];
const LAST = ['Smith', "O'Brien", 'García', 'Müller', 'Nguyen', 'Kowalski', 'Johnson', 'Rossi', 'de la Cruz', 'Øster', 'Lee', 'Brown'];
const CATEGORIES = [
  ['standard', 500],
  ['vip', 2500],
  ['early-bird', 300],
  ['student', 250],
] as const;
const EPOCH = Date.UTC(2026, 0, 1);
const LEGACY_RANGE = 9_900_000;

/** A 32-bit integer hash: the same id always yields the same ticket, whatever the batch size. */
function mix(n: number, salt: number): number {
  let h = Math.imul(n ^ salt, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

/**
 * 8-digit barcodes are id * 37 + 13 modulo 10^8, legacy ones id * 7 modulo 9,900,000 plus
 * 100,000 (6-7 digits): multipliers coprime with the modulus make both unique, the first 2.7
 * million 8-digit ones have leading zeros, and both rise with the id for long runs, so the
 * unique index grows at its end instead of at random pages (seeding a million rows stays fast).
 */
export function demoBarcode(id: number, legacy: boolean): string {
  if (legacy) return String(((id * 7) % LEGACY_RANGE) + 100_000);
  return String((id * 37 + 13) % 100_000_000).padStart(8, '0');
}

/** One deterministic demo ticket, in TICKET_COLUMNS order. */
export function demoTicket(id: number, legacy: boolean): Row {
  const h = mix(id, 0x5eed);
  const [category, price] = CATEGORIES[h % CATEGORIES.length]!;
  const roll = (h >>> 8) % 100;
  const status = roll < 55 ? 'sold' : roll < 85 ? 'available' : roll < 92 ? 'void' : 'redeemed';
  const createdMs = EPOCH + id * 1000 + (id % 1000);
  const created = new Date(createdMs).toISOString();
  const hasBuyer = status === 'sold' || status === 'redeemed';
  const soldAt = hasBuyer ? new Date(createdMs + (mix(id, 7) % (30 * 86_400_000))).toISOString() : null;
  const first = FIRST[(h >>> 4) % FIRST.length]!;
  const last = LAST[(h >>> 12) % LAST.length]!;
  return [
    id,
    `T${String(id).padStart(8, '0')}`,
    demoBarcode(id, legacy),
    category,
    price,
    status,
    hasBuyer ? `${first} ${last}` : null,
    hasBuyer ? `${first}.${last}.${id}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, '') : null,
    hasBuyer ? `+1555${String(mix(id, 3) % 10_000_000).padStart(7, '0')}` : null,
    hasBuyer ? `seller-${String((h >>> 20) % 12 + 1).padStart(2, '0')}` : null,
    soldAt,
    created,
    soldAt ?? created,
  ];
}

function generator(firstId: number, count: number, legacy: boolean, batchSize: number): Readable {
  let next = firstId;
  const end = firstId + count;
  return new Readable({
    objectMode: true,
    highWaterMark: 2,
    read() {
      if (next >= end) return void this.push(null);
      const stop = Math.min(end, next + batchSize);
      const batch: Row[] = [];
      for (; next < stop; next++) batch.push(demoTicket(next, legacy));
      this.push(batch);
    },
  });
}

const DEMO_PARAMS = {
  count: { type: 'integer', default: 100_000, min: 1, max: 50_000_000, description: 'How many tickets to generate' },
  legacyBarcodes: { type: 'boolean', default: false, description: 'Give the tickets 6-7 digit legacy barcodes (for the 8-digit migration)' },
  reset: { type: 'boolean', default: false, description: 'Delete all existing tickets first' },
} as const satisfies ParamSpecs;

/**
 * Generates demo tickets after the highest existing id (creating the table if needed, and
 * emptying it first with `reset`).
 */
export function demoTickets(): SourceSpec<typeof DEMO_PARAMS> {
  return {
    kind: 'source.demo-tickets',
    summary: 'Deterministic demo tickets (names, buyers, sale dates, unique barcodes)',
    columns: TICKET_COLUMNS,
    params: DEMO_PARAMS,
    async open(ctx) {
      const db = await ctx.database();
      // Dropping is much faster than deleting a million indexed rows, on both engines.
      if (ctx.params.reset) await db.exec('DROP TABLE IF EXISTS tickets');
      await initTicketsTable(db);
      const [row] = await db.query({ text: 'SELECT coalesce(max(id), 0) FROM tickets', values: [] });
      const firstId = Number(row?.[0] ?? 0) + 1;
      const { count, legacyBarcodes: legacy } = ctx.params;
      if (legacy && firstId + count > LEGACY_RANGE) {
        throw new SluiceError('INVALID_PARAM', `Legacy barcodes have room for ${LEGACY_RANGE.toLocaleString('en-US')} tickets; ids would reach ${firstId + count - 1}. Use --reset or a smaller --count.`);
      }
      ctx.metrics.expectedRows = count;
      return generator(firstId, count, legacy, ctx.batchSize);
    },
  };
}
