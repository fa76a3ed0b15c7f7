import { SluiceError } from './errors.ts';

/**
 * Parameter specs are declared once per pipeline (and per component) and drive validation for
 * every front end: CLI flags, HTTP query parameters and schedule config all go through
 * `parseParams`, so a bad value gets the same error text wherever it came from.
 */
interface BaseSpec<T> {
  description: string;
  default?: T;
}
export interface StringParam extends BaseSpec<string> {
  type: 'string';
  maxLength?: number;
  pattern?: RegExp;
}
export interface IntegerParam extends BaseSpec<number> {
  type: 'integer';
  min?: number;
  max?: number;
}
export interface BooleanParam extends BaseSpec<boolean> {
  type: 'boolean';
}
export interface EnumParam extends BaseSpec<string> {
  type: 'enum';
  values: readonly string[];
}
/** A calendar date, YYYY-MM-DD. */
export interface DateParam extends BaseSpec<string> {
  type: 'date';
}
export type ParamSpec = StringParam | IntegerParam | BooleanParam | EnumParam | DateParam;
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

export type ParamValue = string | number | boolean | undefined;
export type ParamValues = Readonly<Record<string, ParamValue>>;

export const BATCH_SIZE_PARAM: IntegerParam = {
  type: 'integer',
  description: 'Rows per batch moved between stages (and per database round trip)',
  default: 1000,
  min: 1,
  max: 50_000,
};

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function invalid(name: string, expected: string, raw: unknown): SluiceError {
  return new SluiceError('INVALID_PARAM', `Invalid value for parameter "${name}": expected ${expected}, got ${JSON.stringify(raw)}.`);
}

function describeInteger(spec: IntegerParam): string {
  if (spec.min !== undefined && spec.max !== undefined) return `an integer from ${spec.min} to ${spec.max}`;
  if (spec.min !== undefined) return `an integer of at least ${spec.min}`;
  if (spec.max !== undefined) return `an integer of at most ${spec.max}`;
  return 'an integer';
}

export function describeExpected(spec: ParamSpec): string {
  switch (spec.type) {
    case 'integer':
      return describeInteger(spec);
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'date':
      return 'a date YYYY-MM-DD';
    case 'string':
      return spec.maxLength ? `text of at most ${spec.maxLength} characters` : 'text';
  }
}

function isRealDate(text: string): boolean {
  const m = DATE_RE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/** Converts one raw value (a string from argv or a query string, or a typed value from config). */
export function parseParam(name: string, spec: ParamSpec, raw: unknown): ParamValue {
  if (raw === undefined || raw === null || raw === '') return spec.default;
  if (Array.isArray(raw)) throw invalid(name, `a single value (${describeExpected(spec)})`, raw);
  switch (spec.type) {
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw invalid(name, describeInteger(spec), raw);
      }
      return n;
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return raw;
      const text = String(raw).toLowerCase();
      if (['true', '1', 'yes'].includes(text)) return true;
      if (['false', '0', 'no'].includes(text)) return false;
      throw invalid(name, 'true or false', raw);
    }
    case 'enum': {
      if (typeof raw !== 'string' || !spec.values.includes(raw)) throw invalid(name, `one of ${spec.values.join(', ')}`, raw);
      return raw;
    }
    case 'date': {
      if (typeof raw !== 'string' || !isRealDate(raw)) throw invalid(name, 'a date YYYY-MM-DD', raw);
      return raw;
    }
    case 'string': {
      if (typeof raw !== 'string') throw invalid(name, 'text', raw);
      if (spec.maxLength !== undefined && raw.length > spec.maxLength) throw invalid(name, describeExpected(spec), raw);
      if (spec.pattern && !spec.pattern.test(raw)) throw invalid(name, `text matching ${spec.pattern}`, raw);
      return raw;
    }
  }
}

/**
 * Validates a whole parameter set. Unknown names are refused rather than ignored: a typo such as
 * `--stauts sold` must not silently export every ticket.
 */
export function parseParams(specs: ParamSpecs, raw: Readonly<Record<string, unknown>>): ParamValues {
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(specs, name)) {
      const known = Object.keys(specs).join(', ') || 'none';
      throw new SluiceError('INVALID_PARAM', `Unknown parameter "${name}" (known parameters: ${known}).`);
    }
  }
  const values: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = parseParam(name, spec, raw[name]);
  return values;
}

export function validateSpec(name: string, spec: ParamSpec): void {
  if (!/^[a-z][A-Za-z0-9]*$/.test(name)) {
    throw new SluiceError('INVALID_DEFINITION', `Parameter name "${name}" must be camelCase letters and digits.`);
  }
  if (!spec.description) throw new SluiceError('INVALID_DEFINITION', `Parameter "${name}" needs a description.`);
  if (spec.type === 'integer' && spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
    throw new SluiceError('INVALID_DEFINITION', `Parameter "${name}" has min ${spec.min} above max ${spec.max}.`);
  }
  if (spec.default !== undefined) parseParam(name, spec, spec.default);
}
