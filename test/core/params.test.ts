import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../src/core/errors.ts';
import { BATCH_SIZE_PARAM, parseParams, type ParamSpecs } from '../../src/core/params.ts';

const specs: ParamSpecs = {
  status: { type: 'enum', values: ['sold', 'void'], description: 'status' },
  limit: { type: 'integer', min: 1, max: 100, description: 'limit' },
  soldFrom: { type: 'date', description: 'from' },
  bom: { type: 'boolean', default: false, description: 'bom' },
  q: { type: 'string', maxLength: 5, description: 'q' },
  batchSize: BATCH_SIZE_PARAM,
};

function errorOf(raw: Record<string, unknown>): SluiceError {
  try {
    parseParams(specs, raw);
  } catch (error) {
    return error as SluiceError;
  }
  throw new Error('expected a validation error');
}

describe('parameter validation', () => {
  it('converts strings from the CLI or a query string, applying defaults', () => {
    expect(parseParams(specs, { status: 'sold', limit: '10', soldFrom: '2026-02-28', bom: 'true', batchSize: '500' })).toEqual({
      status: 'sold',
      limit: 10,
      soldFrom: '2026-02-28',
      bom: true,
      q: undefined,
      batchSize: 500,
    });
    expect(parseParams(specs, {})).toMatchObject({ bom: false, batchSize: 1000, limit: undefined });
  });

  it.each([
    [{ limit: 'abc' }, 'Invalid value for parameter "limit": expected an integer from 1 to 100, got "abc".'],
    [{ limit: '0' }, 'Invalid value for parameter "limit": expected an integer from 1 to 100, got "0".'],
    [{ limit: '1.5' }, 'Invalid value for parameter "limit": expected an integer from 1 to 100, got "1.5".'],
    [{ status: 'lost' }, 'Invalid value for parameter "status": expected one of sold, void, got "lost".'],
    [{ soldFrom: '2026-02-30' }, 'Invalid value for parameter "soldFrom": expected a date YYYY-MM-DD, got "2026-02-30".'],
    [{ bom: 'maybe' }, 'Invalid value for parameter "bom": expected true or false (also 1/0, yes/no, on/off), got "maybe".'],
    [{ bom: '' }, 'Invalid value for parameter "bom": expected true or false (also 1/0, yes/no, on/off), got an empty value.'],
    [{ status: '' }, 'Invalid value for parameter "status": expected one of sold, void, got an empty value.'],
    [{ limit: '' }, 'Invalid value for parameter "limit": expected an integer from 1 to 100, got an empty value.'],
    [{ q: '' }, 'Invalid value for parameter "q": expected text of at most 5 characters, got an empty value.'],
    [{ q: 'a\u0000b' }, 'Invalid value for parameter "q": expected text of at most 5 characters without NUL characters, got "a\\u0000b".'],
    [{ status: 'sold\u0000' }, 'Invalid value for parameter "status": expected one of sold, void without NUL characters, got "sold\\u0000".'],
    [{ q: 'toolong' }, 'Invalid value for parameter "q": expected text of at most 5 characters, got "toolong".'],
    [{ batchSize: '50001' }, 'Invalid value for parameter "batchSize": expected an integer from 1 to 50000, got "50001".'],
    [{ limit: ['1', '2'] }, 'Invalid value for parameter "limit": expected a single value (an integer from 1 to 100), got ["1","2"].'],
  ])('refuses %j with a message naming the parameter', (raw, message) => {
    const error = errorOf(raw);
    expect(error).toBeInstanceOf(SluiceError);
    expect(error.code).toBe('INVALID_PARAM');
    expect(error.exitCode).toBe(2);
    expect(error.httpStatus).toBe(400);
    expect(error.message).toBe(message);
  });

  it('refuses unknown parameters instead of ignoring a typo, and suggests the nearest', () => {
    expect(errorOf({ stauts: 'sold' }).message).toMatch(/^Unknown parameter "stauts" \(known parameters: status, limit.*\)\. Did you mean parameter "status"\?$/);
    expect(errorOf({ zzz: 'sold' }).message).not.toContain('Did you mean');
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['True', true],
    ['1', true],
    ['yes', true],
    ['On', true],
    ['false', false],
    ['FALSE', false],
    ['0', false],
    ['no', false],
    ['off', false],
    [true, true],
    [false, false],
  ])('reads the boolean %j as %s, whatever the front end', (raw, expected) => {
    expect(parseParams(specs, { bom: raw }).bom).toBe(expected);
  });

  it('names a parameter the way the front end does when asked (the CLI: its flag)', () => {
    try {
      parseParams(specs, { soldFrom: 'x' }, { label: (name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` });
    } catch (error) {
      expect((error as Error).message).toBe('Invalid value for --sold-from: expected a date YYYY-MM-DD, got "x".');
      return;
    }
    throw new Error('expected a validation error');
  });
});
