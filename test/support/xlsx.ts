import { readFileSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';
import type { SheetPiece } from '../../src/format/xlsx-sheet-data.ts';

/**
 * An XLSX reader written for the tests, independent of exceljs: a zip central-directory walk
 * with zlib, and regular expressions over the parts' XML. It returns raw cell types and styles so
 * tests can check how values were written, not only what a lenient reader makes of them.
 */

/** Every entry of a zip archive (stored or deflated), by name. */
export function unzip(zip: Buffer): Map<string, Buffer> {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip file: no end of central directory');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt central directory');
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const skip = nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    if (compressed === 0xffffffff || size === 0xffffffff) throw new Error(`${name}: zip64 entries are not supported by this test reader`);
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`${name}: bad local header`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + compressed);
    const content = method === 8 ? inflateRawSync(data) : Buffer.from(data);
    if (content.length !== size) throw new Error(`${name}: ${content.length} bytes inflated, ${size} expected`);
    // Excel refuses a file whose checksums are wrong; the zip's CRC is computed in sluice (see xlsx-workbook.ts).
    if (crc32(content) !== crc) throw new Error(`${name}: CRC-32 ${crc.toString(16)} in the zip, ${crc32(content).toString(16)} of the content`);
    files.set(name.replace(/^\//, ''), content);
    at += 46 + skip;
  }
  return files;
}

function attributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([\w:]+)="([^"]*)"/g)) out[m[1]!] = decodeXml(m[2]!);
  return out;
}

/** XML entities and character references. */
export function decodeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
      default:
        return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

/** ECMA-376 ST_Xstring escapes as Excel reads them: `_x000D_` is CR, `_x005F_` a literal underscore. */
export function decodeXstring(text: string): string {
  return text.replace(/_x([0-9a-fA-F]{4})_/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export interface RawCell {
  readonly ref: string;
  /** The `t` attribute (undefined: a number). */
  readonly type: string | undefined;
  readonly style: number;
  /** `<v>` text, or the decoded inline string. */
  readonly value: string;
  /** Whether the inline string carried xml:space="preserve". */
  readonly preserve: boolean;
}

export interface RawRow {
  readonly number: number;
  readonly cells: readonly RawCell[];
}

export interface RawSheet {
  readonly name: string;
  readonly path: string;
  readonly xml: string;
  readonly rows: readonly RawRow[];
}

export interface RawWorkbook {
  readonly files: Map<string, Buffer>;
  readonly sheets: readonly RawSheet[];
  /** Number format code of each cellXfs style index. */
  readonly numFmts: readonly string[];
  /** Whether each cellXfs style index has a bold font. */
  readonly bold: readonly boolean[];
}

const BUILTIN_FORMATS: Record<number, string> = { 0: 'General', 14: 'mm-dd-yy' };

function parseStyles(xml: string): { numFmts: string[]; bold: boolean[] } {
  const custom = new Map<number, string>();
  for (const m of xml.matchAll(/<numFmt ([^>]*)\/>/g)) {
    const a = attributes(m[1]!);
    custom.set(Number(a.numFmtId), a.formatCode!);
  }
  const fonts = [...(xml.match(/<fonts[^>]*>([\s\S]*?)<\/fonts>/)?.[1] ?? '').matchAll(/<font>([\s\S]*?)<\/font>|<font\/>/g)].map((m) => /<b\/>/.test(m[1] ?? ''));
  const xfs = xml.match(/<cellXfs[^>]*>([\s\S]*?)<\/cellXfs>/)?.[1] ?? '';
  const numFmts: string[] = [];
  const bold: boolean[] = [];
  for (const m of xfs.matchAll(/<xf ([^>]*?)\/?>/g)) {
    const a = attributes(m[1]!);
    const id = Number(a.numFmtId ?? 0);
    numFmts.push(custom.get(id) ?? BUILTIN_FORMATS[id] ?? `builtin:${id}`);
    bold.push(fonts[Number(a.fontId ?? 0)] ?? false);
  }
  return { numFmts, bold };
}

function parseCell(open: string, body: string | undefined): RawCell {
  const a = attributes(open);
  if (body === undefined) return { ref: a.r!, type: a.t, style: Number(a.s ?? 0), value: '', preserve: false }; // <c r=".." s=".."/>
  const inline = /^<is><t( xml:space="preserve")?>([\s\S]*)<\/t><\/is>$/.exec(body);
  const v = /^<v>([\s\S]*)<\/v>$/.exec(body);
  if (!inline && !v) throw new Error(`unexpected cell content in ${a.r}: ${body.slice(0, 200)}`);
  return {
    ref: a.r!,
    type: a.t,
    style: Number(a.s ?? 0),
    value: inline ? decodeXstring(decodeXml(inline[2]!)) : decodeXml(v![1]!),
    preserve: Boolean(inline?.[1]),
  };
}

function parseSheet(name: string, path: string, xml: string): RawSheet {
  // Structure first, so a garbled part fails here rather than parsing leniently.
  // indexOf, not a regular expression: a backtracking match over megabytes of XML can fail.
  const open = xml.indexOf('<sheetData>');
  const close = xml.indexOf('</sheetData>');
  if (open < 0 || close < open || xml.indexOf('<sheetData>', open + 1) >= 0 || !xml.endsWith('</worksheet>')) {
    throw new Error(`${path}: malformed worksheet (sheetData at ${open}..${close}, ends with ${JSON.stringify(xml.slice(-40))})`);
  }
  const data = xml.slice(open + '<sheetData>'.length, close);
  const rows: RawRow[] = [];
  for (const row of data.matchAll(/<row ([^>]*)>([\s\S]*?)<\/row>/g)) {
    const cells = [...row[2]!.matchAll(/<c ([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)].map((c) => parseCell(c[1]!, c[2]));
    rows.push({ number: Number(attributes(row[1]!).r), cells });
  }
  const opened = data.split('<row ').length - 1;
  if (opened !== rows.length) throw new Error(`${path}: ${opened} <row> elements but ${rows.length} parsed`);
  return { name, path, xml, rows };
}

export function readXlsx(pathOrBuffer: string | Buffer): RawWorkbook {
  const files = unzip(typeof pathOrBuffer === 'string' ? readFileSync(pathOrBuffer) : pathOrBuffer);
  const text = (name: string) => {
    const file = files.get(name);
    if (!file) throw new Error(`missing part ${name}; parts: ${[...files.keys()].join(', ')}`);
    return file.toString('utf8');
  };
  const rels = new Map<string, string>();
  for (const m of text('xl/_rels/workbook.xml.rels').matchAll(/<Relationship ([^>]*)\/>/g)) {
    const a = attributes(m[1]!);
    rels.set(a.Id!, a.Target!);
  }
  const sheets = [...text('xl/workbook.xml').matchAll(/<sheet ([^>]*)\/>/g)].map((m) => {
    const a = attributes(m[1]!);
    const path = `xl/${rels.get(a['r:id']!)!.replace(/^\/?xl\//, '')}`;
    return parseSheet(a.name!, path, text(path));
  });
  return { files, sheets, ...parseStyles(text('xl/styles.xml')) };
}

export interface SheetSummary {
  readonly xml: string[];
  readonly records: unknown[];
  readonly issues: unknown[];
}

/** The pieces as the sheet's writer sees them: the XML of each sheet, and the records in order (issues apart: where they fall between rows does not matter). */
export function sheetSummary(pieces: readonly SheetPiece[]): SheetSummary {
  const xml: string[] = [];
  const records: unknown[] = [];
  const issues: unknown[] = [];
  for (const piece of pieces) {
    if ('xml' in piece) xml[xml.length - 1] += piece.xml.toString('utf8');
    else if ('issues' in piece) issues.push(...piece.issues.map((issue) => ({ ...issue, sheet: piece.sheet })));
    else {
      records.push(piece);
      if ('sheet' in piece) xml.push('');
    }
  }
  return { xml, records, issues };
}
