import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { StreamingWorkbook } from '../../src/sinks/xlsx-workbook.ts';
import { readXlsx } from '../support/xlsx.ts';

/**
 * The adapter over exceljs internals (src/sinks/xlsx-workbook.ts). These tests fail if an exceljs
 * upgrade removes or changes what it relies on: check them first after bumping exceljs.
 */

/** A consumer that holds every write while `stalled`, like a slow disk or client. */
function consumer() {
  const chunks: Buffer[] = [];
  const held: Array<() => void> = [];
  let stalled = false;
  const stream = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      if (stalled) held.push(callback);
      else callback();
    },
  });
  return {
    stream,
    chunks,
    bytes: () => chunks.reduce((n, c) => n + c.length, 0),
    stall: () => void (stalled = true),
    release: () => {
      stalled = false;
      for (const callback of held.splice(0)) callback();
    },
  };
}

/** Rows of random hex text: deflate cannot shrink them much, so the zip output is as big as the input. */
function noisyRows(first: number, count: number): Buffer {
  let xml = '';
  for (let r = first; r < first + count; r++) xml += `<row r="${r}"><c r="A${r}" t="inlineStr"><is><t>${randomBytes(48).toString('hex')}</t></is></c></row>`;
  return Buffer.from(xml);
}

async function settled<T>(promise: Promise<T>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  // Give the zip's deflater (zlib's thread pool) every chance to take the data in.
  for (let i = 0; i < 5 && !done; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  return done;
}

function workbook(output: Writable): StreamingWorkbook {
  return new StreamingWorkbook(output, { dateFormat: 'yyyy-mm-dd hh:mm:ss.000', onError: (error) => { throw error; } });
}

describe('StreamingWorkbook (exceljs internals)', () => {
  it('still finds the exceljs internals it relies on', () => {
    const writer = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: new Writable({ write: (_c, _e, cb) => cb() }), useStyles: true }) as unknown as Record<string, unknown>;
    expect(typeof writer._openStream).toBe('function');
    const zip = writer.zip as Record<string, unknown>;
    expect(typeof zip.append).toBe('function');
    expect(typeof zip.abort).toBe('function');
    expect(typeof (writer.styles as Record<string, unknown>).addStyleModel).toBe('function');
    const sheet = (writer.addWorksheet as (name: string) => Record<string, unknown>).call(writer, 'probe');
    for (const member of ['_writeColumns', '_writeOpenSheetData', 'commit']) expect(typeof sheet[member]).toBe('function');
    expect(sheet.startedData).toBe(false);
  });

  it('writes a package that both an independent reader and exceljs read back', async () => {
    const out = consumer();
    const book = workbook(out.stream);
    const first = book.addSheet('Tickets', [8, 20], 'A1:B1');
    await first.write(`<row r="1"><c r="A1" s="${book.styles.header}" t="inlineStr"><is><t>id</t></is></c><c r="B1" s="${book.styles.header}" t="inlineStr"><is><t>at</t></is></c></row>`);
    await first.write(Buffer.from(`<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="${book.styles.date}"><v>46023.5</v></c></row>`));
    first.commit();
    const second = book.addSheet('Tickets (2)', [8, 20], 'A1:B1');
    await second.write('<row r="1"><c r="A1" t="inlineStr"><is><t>second</t></is></c></row>');
    second.commit();
    await book.commit();

    const file = Buffer.concat(out.chunks);
    const raw = readXlsx(file);
    expect(raw.sheets.map((s) => s.name)).toEqual(['Tickets', 'Tickets (2)']);
    const [sheet] = raw.sheets;
    expect(raw.bold[book.styles.header]).toBe(true);
    expect(raw.numFmts[book.styles.date]).toBe('yyyy-mm-dd hh:mm:ss.000');
    expect(sheet!.xml).toContain('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>');
    expect(sheet!.xml).toContain('<autoFilter ref="A1:B1"/>');
    expect(sheet!.xml).toContain('<cols><col min="1" max="1" width="8" customWidth="1"/><col min="2" max="2" width="20" customWidth="1"/></cols><sheetData><row r="1">');
    expect(sheet!.rows.map((r) => r.cells.map((c) => c.value))).toEqual([['id', 'at'], ['1', '46023.5']]);

    const excel = new ExcelJS.Workbook();
    await excel.xlsx.load(file as unknown as ArrayBuffer);
    const ws = excel.getWorksheet('Tickets')!;
    expect(ws.getCell('B2').value).toEqual(new Date('2026-01-01T12:00:00.000Z'));
    expect(ws.getCell('A1').font?.bold).toBe(true);
    expect(excel.getWorksheet('Tickets (2)')!.getCell('A1').value).toBe('second');
  });

  it('holds writes while the consumer is stalled, with a bounded amount in flight, and resumes', async () => {
    const out = consumer();
    const book = workbook(out.stream);
    const sheet = book.addSheet('Tickets', [40], 'A1:A1');
    out.stall();
    const batch = 1000; // ~110 KB of XML per write
    let accepted = 0;
    let pending: Promise<void> | undefined;
    for (let i = 0; i < 400; i++) {
      const write = sheet.write(noisyRows(2 + i * batch, batch));
      accepted++;
      if (!(await settled(write))) {
        pending = write;
        break;
      }
    }
    // Without backpressure all 400 writes (~44 MB) would be accepted into memory.
    expect(pending).toBeDefined();
    expect(accepted * 110_000).toBeLessThan(8 * 1024 * 1024);
    const heldBytes = out.bytes();
    expect(await settled(pending!)).toBe(false);
    expect(out.bytes()).toBe(heldBytes);

    out.release();
    await pending;
    sheet.commit();
    await book.commit();
    const raw = readXlsx(Buffer.concat(out.chunks));
    expect(raw.sheets[0]!.rows).toHaveLength(accepted * batch);
  });
});
