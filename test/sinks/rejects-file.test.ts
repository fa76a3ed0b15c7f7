import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { rejectsFile } from '../../src/sinks/rejects-file.ts';
import { scratchDir } from '../support/sqlite.ts';

const dir = scratchDir('sluice-rejects-');
afterAll(() => dir.remove());

describe('rejectsFile', () => {
  it('is a header-only CSV once the run starts, and lists each rejection as its reader will see it', () => {
    const path = dir.file('rejects.csv');
    const file = rejectsFile(path);
    file.start();
    expect(readFileSync(path, 'utf8')).toBe('where,reason,values\n');
    file.add({ where: 'line 2', reason: 'bad integer for id: x, "y" is not an integer', values: { id: 'x, "y"', big: 2n ** 63n - 1n, none: null } });
    file.close();
    expect(parse(readFileSync(path))).toEqual([
      ['where', 'reason', 'values'],
      ['line 2', 'bad integer for id: x, "y" is not an integer', '{"id":"x, \\"y\\"","big":"9223372036854775807","none":null}'],
    ]);
  });

  it('escapes what a spreadsheet would run as a formula: the input is anyone\'s', () => {
    const path = dir.file('formulas.csv');
    const file = rejectsFile(path);
    file.add({ where: '=cmd|\' /C calc\'!A0', reason: '+SUM(1)', values: {} });
    file.close();
    expect(parse(readFileSync(path))[1]).toEqual(["'=cmd|' /C calc'!A0", "'+SUM(1)", '{}']);
  });
});
