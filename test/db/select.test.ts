import { describe, expect, it } from 'vitest';
import { type SliceRange, buildCopy, buildCount, buildRangeEnd, buildSelect, type SelectSpec } from '../../src/db/select.ts';
import { TICKET_FILTERS } from '../../raffle/ticket-filters.ts';
import { ticketColumns } from '../../raffle/tickets.ts';

const spec: SelectSpec = { table: 'tickets', columns: ticketColumns('id', 'barcode', 'sold_at'), orderBy: 'id', filters: TICKET_FILTERS, limitParam: 'limit' };
const hostile = { status: 'sold', seller: "x' OR '1'='1", q: "%'; DROP TABLE tickets; --", soldFrom: '2026-01-31', soldTo: '2026-02-28', limit: 5 };

describe('SQL building', () => {
  it('binds every filter value and never splices it into the SQL (SQLite)', () => {
    const query = buildSelect('sqlite', spec, hostile);
    expect(query.text).not.toContain('DROP');
    expect(query.text).not.toContain("'1'='1");
    expect(query.text).toContain('ORDER BY "tickets"."id" LIMIT ?');
    const needle = "%'; drop table tickets; --";
    expect(query.values).toEqual(['sold', "x' OR '1'='1", '2026-01-31T00:00:00.000Z', '2026-03-01T00:00:00.000Z', needle, needle, needle, 5]);
  });

  it('uses numbered placeholders and timestamptz casts on PostgreSQL', () => {
    const query = buildSelect('postgres', spec, hostile);
    expect(query.text).toContain('"status" = $1');
    expect(query.text).toContain('"sold_at" >= $3::timestamptz');
    expect(query.text).toContain('"sold_at" < $4::timestamptz');
    expect(query.text).toContain('strpos(lower("ticket_number"), $5) > 0');
    expect(query.text).toMatch(/LIMIT \$8::bigint$/);
    expect(query.values).toHaveLength(8);
  });

  it('makes soldTo inclusive of its whole day, across month ends', () => {
    expect(buildSelect('sqlite', spec, { soldTo: '2028-02-28' }).values).toEqual(['2028-02-29T00:00:00.000Z']);
    expect(buildSelect('sqlite', spec, { soldTo: '2026-12-31' }).values).toEqual(['2027-01-01T00:00:00.000Z']);
  });

  it('formats timestamps as canonical ISO text on both engines', () => {
    expect(buildSelect('postgres', spec, {}).text).toContain(`to_char("sold_at" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "sold_at"`);
    expect(buildSelect('sqlite', spec, {}).text).toContain(`coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', "sold_at"), "sold_at")`);
  });

  it('counts with the same filters and limit', () => {
    const count = buildCount('sqlite', spec, { status: 'sold', limit: 3 });
    expect(count.text).toBe('SELECT count(*) FROM (SELECT 1 FROM "tickets" WHERE "status" = ? LIMIT ?) AS matching');
    expect(count.values).toEqual(['sold', 3]);
  });

  it('stops counting at atMost, the smaller of it and the limit', () => {
    expect(buildCount('sqlite', spec, {}, 1)).toEqual({ text: 'SELECT count(*) FROM (SELECT 1 FROM "tickets" LIMIT ?) AS matching', values: [1] });
    expect(buildCount('postgres', spec, { limit: 3 }, 1).values).toEqual([1]);
    expect(buildCount('postgres', spec, { limit: 3 }).text).toContain('LIMIT $1::bigint');
  });

  it('applies no WHERE clause without filter values', () => {
    expect(buildSelect('sqlite', spec, { status: undefined, q: '' }).text).not.toContain('WHERE');
  });
});

describe('key slices (resumable exports)', () => {
  const range: SliceRange = { key: 'id', keyType: 'integer', after: '9007199254740993', through: '9007199254741000' };

  it('bounds a slice by key after the filters, without the limit (the caller sizes slices)', () => {
    const query = buildSelect('postgres', spec, { status: 'sold', limit: 5 }, range);
    expect(query.text).toMatch(/WHERE "status" = \$1 AND "id" > \$2::bigint AND "id" <= \$3::bigint ORDER BY "tickets"."id"$/);
    expect(query.values).toEqual(['sold', '9007199254740993', '9007199254741000']);
  });

  it('binds SQLite integer keys as numbers, exactly beyond 2^53', () => {
    const query = buildSelect('sqlite', spec, {}, { key: 'id', keyType: 'integer', after: '12', through: '9007199254740993' });
    expect(query.values).toEqual([12, 9007199254740993n]);
    expect(buildSelect('sqlite', spec, {}, { key: 'sold_at', keyType: 'timestamp', after: '2026-01-01T00:00:00.000Z' }).values).toEqual(['2026-01-01T00:00:00.000Z']);
  });

  it('finds where a slice ends with the key of its last row, sorted as the key, not as the text it is returned as', () => {
    const query = buildRangeEnd('postgres', spec, { status: 'sold' }, { key: 'id', keyType: 'integer', after: '100' }, 50_000);
    expect(query.text).toBe('SELECT "id"::text AS sluice_key FROM "tickets" WHERE "status" = $1 AND "id" > $2::bigint ORDER BY "id" LIMIT 1 OFFSET $3::bigint');
    expect(query.values).toEqual(['sold', '100', 49_999]);
    expect(buildRangeEnd('sqlite', spec, {}, { key: 'id', keyType: 'integer' }, 10).text).toBe('SELECT "id" AS sluice_key FROM "tickets" ORDER BY "id" LIMIT 1 OFFSET ?');
  });

  it('COPY reads the slice bounds back from its settings, cast to the key type', () => {
    const copy = buildCopy(spec, {}, { format: 'csv', header: false, escapeFormulas: true, preamble: '' }, { key: 'sold_at', keyType: 'timestamp', after: 'a', through: 'b' });
    expect(copy.text).toContain(`"sold_at" > current_setting('sluice.p1')::timestamptz AND "sold_at" <= current_setting('sluice.p2')::timestamptz ORDER BY "tickets"."id") TO STDOUT`);
    expect(copy.settings).toEqual(['a', 'b']);
  });
});
