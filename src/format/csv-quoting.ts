/**
 * Which fields of one CSV record (RFC 4180, comma-delimited) were quoted, from the record's raw
 * text as the parser read it: any empty lines skipped before it, the record, its line break.
 * The parser has already checked the quoting, so this only walks it.
 */
export function quotedFields(raw: string): boolean[] {
  const quoted: boolean[] = [];
  let i = 0;
  while (raw[i] === '\r' || raw[i] === '\n') i++;
  for (;;) {
    const isQuoted = raw[i] === '"';
    quoted.push(isQuoted);
    if (isQuoted) i = closingQuote(raw, i + 1) + 1;
    while (i < raw.length && raw[i] !== ',' && raw[i] !== '\n' && raw[i] !== '\r') i++;
    if (raw[i] !== ',') return quoted;
    i++;
  }
}

/** The index of the quote that closes a field opened before `from` (a doubled quote is text). */
function closingQuote(raw: string, from: number): number {
  for (let i = from; ; ) {
    const quote = raw.indexOf('"', i);
    if (quote === -1) return raw.length;
    if (raw[quote + 1] !== '"') return quote;
    i = quote + 2;
  }
}

/**
 * The record with each empty unquoted field as NULL and each quoted one as empty text, as
 * sluice's CSV exports (and PostgreSQL's COPY) write them. Records without an empty field, most
 * of them, are returned as they are without a look at their text.
 */
export function emptyFieldsAsNull(record: readonly string[], raw: string): Array<string | null> {
  if (!record.includes('')) return record as string[];
  const quoted = quotedFields(raw);
  return record.map((value, i) => (value === '' && !quoted[i] ? null : value));
}
