import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseIdentity, identityDifferences, identityParams, notResumable } from '../../src/core/checkpoints.ts';
import { bundledPipeline } from '../support/app.ts';

const saved = { pipeline: 'export-csv', params: { status: 'sold', escapeFormulas: true }, database: 'sqlite:/a/t.db', key: 'id' };

describe('an export resumed is the same export', () => {
  it('names every difference, then against now', () => {
    expect(identityDifferences(saved, saved)).toEqual([]);
    const other = { pipeline: 'export-all-tickets', params: { seller: 'Ana', escapeFormulas: false }, database: 'postgres://u@h:5432/d', key: 'sold_at' };
    expect(identityDifferences(saved, other)).toEqual([
      'pipeline: "export-csv" then, "export-all-tickets" now',
      'database: "sqlite:/a/t.db" then, "postgres://u@h:5432/d" now',
      'ordering key: "id" then, "sold_at" now',
      'parameter escapeFormulas: true then, false now',
      'parameter seller: (not given) then, "Ana" now',
      'parameter status: "sold" then, (not given) now',
    ]);
  });

  it('leaves batchSize out (it changes no byte), and names a SQLite file by its absolute path', () => {
    expect(identityParams({ batchSize: 10, status: 'sold' })).toEqual({ status: 'sold' });
    expect(databaseIdentity('sqlite:data/t.db')).toBe(`sqlite:${resolve('data/t.db')}`);
    expect(databaseIdentity('postgres://u@h/d')).toBe('postgres://u@h/d');
  });

  it('says which pipelines cannot resume, and why', async () => {
    expect(notResumable(await bundledPipeline('export-csv'))).toBeUndefined();
    expect(notResumable(await bundledPipeline('export-xlsx'))).toMatch(/XLSX output cannot be continued/);
    expect(notResumable(await bundledPipeline('seed-tickets'))).toMatch(/writes to a database/);
  });
});
