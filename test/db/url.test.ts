import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.ts';
import { parseDatabaseUrl, redactUrl } from '../../src/db/url.ts';

describe('database URLs', () => {
  it.each([undefined, ''])('a missing URL (%j) is a SluiceError saying one is needed', (url) => {
    expect(() => openDatabase(url as unknown as string)).toThrow(expect.objectContaining({ code: 'INVALID_DATABASE_URL', message: expect.stringMatching(/^A database URL is needed/) }));
  });

  it('reads SQLite paths and PostgreSQL URLs, and never shows a password', () => {
    expect(parseDatabaseUrl('sqlite:data/x.db')).toEqual({ dialect: 'sqlite', path: 'data/x.db', label: 'sqlite:data/x.db' });
    expect(parseDatabaseUrl('x.sqlite3')).toMatchObject({ dialect: 'sqlite', path: 'x.sqlite3' });
    expect(parseDatabaseUrl('postgres://u:secret@h:5/d').label).toBe('postgres://u:***@h:5/d');
    expect(redactUrl('postgresql://u:pw@h/d')).toBe('postgresql://u:***@h/d');
    expect(() => parseDatabaseUrl('mysql://x/y')).toThrow(/Cannot use database "mysql:\/\/x\/y"/);
  });
});
