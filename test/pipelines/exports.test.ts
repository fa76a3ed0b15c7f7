import { readdirSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.ts';
import { openDatabase } from '../../src/db/open.ts';
import { TICKET_COLUMNS } from '../../raffle/tickets.ts';
import { type ScratchDatabase, createScratchDatabase, postgresAvailable } from '../support/postgres.ts';
import { exportTo } from '../support/run.ts';
import { partFilesOf, scratchDir } from '../support/sqlite.ts';
import { AWKWARD_TICKETS, insertTickets, seedTickets } from '../support/tickets.ts';

const HEADER = TICKET_COLUMNS.map((c) => c.name);

/** The exact bytes each export must produce for AWKWARD_TICKETS, whichever database holds them. */
const EXPECTED: Record<string, string> = {
  'export-csv':
    'id,ticket_number,barcode,category,price_cents,status,buyer_name,buyer_email,buyer_phone,seller,sold_at,created_at,updated_at\n' +
    "1,T-0001,00012345,standard,500,sold,\"Ann \"\"Nancy\"\" O'Neil\",ann@example.com,+15551234567,box office,2026-01-01T00:00:07.000Z,2026-01-01T00:00:00.000Z,2026-01-01T00:00:07.000Z\n" +
    '2,T-0002,00000001,vip,2500,available,,,,,,2026-01-02T10:20:30.123Z,2026-01-02T10:20:30.123Z\n' +
    '3,T-0003,12345678,"student, discounted",250,sold,"Line\nBreak","crlf\r\nuser@example.com",-12.5,"",2026-02-28T23:59:59.999Z,2026-01-03T00:00:00.000Z,2026-02-28T23:59:59.999Z\n' +
    '4,T-0004,0000000A,early-bird,300,redeemed,"\'=HYPERLINK(""http://evil"",""x"")",\'@SUM(A1),+1 (555) 010-9999,tab\there,2026-03-01T00:00:00.000Z,2026-01-04T00:00:00.000Z,2026-03-01T00:00:00.000Z\n' +
    "5,T-0005,99999999,vip,0,void,  padded  ,back\\slash@example.com,'+cmd|calc,'-2+3,,2026-01-05T00:00:00.000Z,2026-01-05T00:00:00.000Z\n" +
    "6,T-0006,00000042,standard,500,sold,Zoë Ünïcødé 🎟️ 日本,zoe@example.com,'\t+15550000000,\"'\rcarriage\",2026-01-06T12:00:00.500Z,2026-01-06T00:00:00.000Z,2026-01-06T12:00:00.500Z\n",
  'export-all-tickets':
    'id\tticket_number\tbarcode\tcategory\tprice_cents\tstatus\tbuyer_name\tbuyer_email\tbuyer_phone\tseller\tsold_at\tcreated_at\tupdated_at\n' +
    '1\tT-0001\t00012345\tstandard\t500\tsold\tAnn "Nancy" O\'Neil\tann@example.com\t+15551234567\tbox office\t2026-01-01T00:00:07.000Z\t2026-01-01T00:00:00.000Z\t2026-01-01T00:00:07.000Z\n' +
    '2\tT-0002\t00000001\tvip\t2500\tavailable\t\t\t\t\t\t2026-01-02T10:20:30.123Z\t2026-01-02T10:20:30.123Z\n' +
    '3\tT-0003\t12345678\tstudent, discounted\t250\tsold\tLine\\nBreak\tcrlf\\r\\nuser@example.com\t-12.5\t\t2026-02-28T23:59:59.999Z\t2026-01-03T00:00:00.000Z\t2026-02-28T23:59:59.999Z\n' +
    '4\tT-0004\t0000000A\tearly-bird\t300\tredeemed\t\'=HYPERLINK("http://evil","x")\t\'@SUM(A1)\t+1 (555) 010-9999\ttab\\there\t2026-03-01T00:00:00.000Z\t2026-01-04T00:00:00.000Z\t2026-03-01T00:00:00.000Z\n' +
    '5\tT-0005\t99999999\tvip\t0\tvoid\t  padded  \tback\\\\slash@example.com\t\'+cmd|calc\t\'-2+3\t\t2026-01-05T00:00:00.000Z\t2026-01-05T00:00:00.000Z\n' +
    '6\tT-0006\t00000042\tstandard\t500\tsold\tZoë Ünïcødé 🎟️ 日本\tzoe@example.com\t\'\\t+15550000000\t\'\\rcarriage\t2026-01-06T12:00:00.500Z\t2026-01-06T00:00:00.000Z\t2026-01-06T12:00:00.500Z\n',
  'number-barcode': 'ticket_number,barcode\nT-0001,00012345\nT-0002,00000001\nT-0003,12345678\nT-0004,0000000A\nT-0005,99999999\nT-0006,00000042\n',
  'export-all-barcodes': '00012345\n00000001\n12345678\n0000000A\n99999999\n00000042\n',
  'export-ndjson':
    "{\"id\":1,\"ticket_number\":\"T-0001\",\"barcode\":\"00012345\",\"category\":\"standard\",\"price_cents\":500,\"status\":\"sold\",\"buyer_name\":\"Ann \\\"Nancy\\\" O'Neil\",\"buyer_email\":\"ann@example.com\",\"buyer_phone\":\"+15551234567\",\"seller\":\"box office\",\"sold_at\":\"2026-01-01T00:00:07.000Z\",\"created_at\":\"2026-01-01T00:00:00.000Z\",\"updated_at\":\"2026-01-01T00:00:07.000Z\"}\n" +
    "{\"id\":2,\"ticket_number\":\"T-0002\",\"barcode\":\"00000001\",\"category\":\"vip\",\"price_cents\":2500,\"status\":\"available\",\"buyer_name\":null,\"buyer_email\":null,\"buyer_phone\":null,\"seller\":null,\"sold_at\":null,\"created_at\":\"2026-01-02T10:20:30.123Z\",\"updated_at\":\"2026-01-02T10:20:30.123Z\"}\n" +
    "{\"id\":3,\"ticket_number\":\"T-0003\",\"barcode\":\"12345678\",\"category\":\"student, discounted\",\"price_cents\":250,\"status\":\"sold\",\"buyer_name\":\"Line\\nBreak\",\"buyer_email\":\"crlf\\r\\nuser@example.com\",\"buyer_phone\":\"-12.5\",\"seller\":\"\",\"sold_at\":\"2026-02-28T23:59:59.999Z\",\"created_at\":\"2026-01-03T00:00:00.000Z\",\"updated_at\":\"2026-02-28T23:59:59.999Z\"}\n" +
    "{\"id\":4,\"ticket_number\":\"T-0004\",\"barcode\":\"0000000A\",\"category\":\"early-bird\",\"price_cents\":300,\"status\":\"redeemed\",\"buyer_name\":\"=HYPERLINK(\\\"http://evil\\\",\\\"x\\\")\",\"buyer_email\":\"@SUM(A1)\",\"buyer_phone\":\"+1 (555) 010-9999\",\"seller\":\"tab\\there\",\"sold_at\":\"2026-03-01T00:00:00.000Z\",\"created_at\":\"2026-01-04T00:00:00.000Z\",\"updated_at\":\"2026-03-01T00:00:00.000Z\"}\n" +
    "{\"id\":5,\"ticket_number\":\"T-0005\",\"barcode\":\"99999999\",\"category\":\"vip\",\"price_cents\":0,\"status\":\"void\",\"buyer_name\":\"  padded  \",\"buyer_email\":\"back\\\\slash@example.com\",\"buyer_phone\":\"+cmd|calc\",\"seller\":\"-2+3\",\"sold_at\":null,\"created_at\":\"2026-01-05T00:00:00.000Z\",\"updated_at\":\"2026-01-05T00:00:00.000Z\"}\n" +
    "{\"id\":6,\"ticket_number\":\"T-0006\",\"barcode\":\"00000042\",\"category\":\"standard\",\"price_cents\":500,\"status\":\"sold\",\"buyer_name\":\"Zoë Ünïcødé 🎟️ 日本\",\"buyer_email\":\"zoe@example.com\",\"buyer_phone\":\"\\t+15550000000\",\"seller\":\"\\rcarriage\",\"sold_at\":\"2026-01-06T12:00:00.500Z\",\"created_at\":\"2026-01-06T00:00:00.000Z\",\"updated_at\":\"2026-01-06T12:00:00.500Z\"}\n",
};

/** What the CSV export should read back as: every value as text, NULL as '' (csv-parse has no NULL). */
function tableAsText(): string[][] {
  return AWKWARD_TICKETS.map((row) => row.map((v) => (v === null ? '' : String(v))));
}

const pgOk = await postgresAvailable();
const dir = scratchDir();
let pgDb: ScratchDatabase | undefined;

const databases: Array<[string, () => string]> = [['sqlite', () => `sqlite:${dir.file('tickets.db')}`]];
if (pgOk) databases.push(['postgres', () => pgDb!.url]);

beforeAll(async () => {
  await seedTickets(`sqlite:${dir.file('tickets.db')}`);
  if (pgOk) {
    pgDb = await createScratchDatabase();
    const pg = openDatabase(pgDb.url);
    await insertTickets(pg);
    await pg.close();
  }
});

afterAll(async () => {
  await pgDb?.drop();
  dir.remove();
});

describe.each(databases)('exports from %s', (dialect, url) => {
  it.each(Object.keys(EXPECTED))('%s writes the exact expected bytes', async (name) => {
    const { text, summary } = await exportTo(name, url(), dir.file(`${dialect}-${name}.out`));
    expect(text).toBe(EXPECTED[name]);
    expect(summary.rows).toBe(AWKWARD_TICKETS.length);
    expect(summary.bytesWritten).toBe(Buffer.byteLength(EXPECTED[name]!));
    expect(partFilesOf(dir.file(`${dialect}-${name}.out`))).toEqual([]);
  });

  it('export-csv reads back with csv-parse as exactly the table (formula escaping off)', async () => {
    const { text } = await exportTo('export-csv', url(), dir.file(`${dialect}-raw.csv`), { escapeFormulas: false });
    const [header, ...rows] = parse(text) as string[][];
    expect(header).toEqual(HEADER);
    expect(rows).toEqual(tableAsText());
  });

  it('export-ndjson reads back with JSON.parse as exactly the table, NULL and empty text apart, no formula escape', async () => {
    const { text } = await exportTo('export-ndjson', url(), dir.file(`${dialect}-read.ndjson`));
    const rows = text.trimEnd().split('\n').map((line) => Object.values(JSON.parse(line) as Record<string, unknown>));
    expect(rows).toEqual(AWKWARD_TICKETS);
  });

  it('export-csv with --bom starts with a UTF-8 BOM', async () => {
    const { text } = await exportTo('export-csv', url(), dir.file(`${dialect}-bom.csv`), { bom: true });
    expect(text.startsWith('\uFEFFid,ticket_number,')).toBe(true);
  });

  it.each([
    [{ status: 'sold' }, [1, 3, 6]],
    [{ category: 'vip' }, [2, 5]],
    [{ seller: 'box office' }, [1]],
    [{ soldFrom: '2026-02-28' }, [3, 4]],
    [{ soldTo: '2026-02-28' }, [1, 3, 6]],
    [{ soldFrom: '2026-01-06', soldTo: '2026-01-06' }, [6]],
    [{ q: 'nancy' }, [1]],
    [{ q: 'T-000' }, [1, 2, 3, 4, 5, 6]],
    [{ q: 'ZOË' }, [6]],
    [{ q: 'EXAMPLE.COM' }, [1, 3, 5, 6]],
    [{ q: "%' OR 1=1 --" }, []],
    [{ limit: 2 }, [1, 2]],
    [{ status: 'sold', limit: 2 }, [1, 3]],
  ])('export-csv filters %j', async (params, ids) => {
    const path = dir.file(`${dialect}-filtered.csv`);
    if (ids.length === 0) {
      await expect(exportTo('export-csv', url(), path, params)).rejects.toMatchObject({ code: 'NO_ROWS', message: 'No tickets found' });
      return;
    }
    const { text } = await exportTo('export-csv', url(), path, params);
    const rows = parse(text, { from_line: 2 }) as string[][];
    expect(rows.map((r) => Number(r[0]))).toEqual(ids);
  });

  it('requireRows refuses before creating any file', async () => {
    const error = await exportTo('export-csv', url(), dir.file(`${dialect}-none.csv`), { status: 'available', category: 'student' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toMatchObject({ code: 'NO_ROWS', exitCode: 3, message: 'No tickets found' });
    expect(readdirSync(dir.path).filter((f) => f.startsWith(`${dialect}-none`))).toEqual([]);
  });
});

describe.skipIf(!pgOk)('SQLite and PostgreSQL', () => {
  it.each(Object.keys(EXPECTED))('%s is byte-identical from either database', async (name) => {
    const fromSqlite = await exportTo(name, databases[0]![1](), dir.file(`same-sqlite-${name}`));
    const fromPostgres = await exportTo(name, databases[1]![1](), dir.file(`same-pg-${name}`));
    expect(Buffer.from(fromPostgres.text)).toEqual(Buffer.from(fromSqlite.text));
  });
});
