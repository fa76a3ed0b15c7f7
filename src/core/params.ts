import { SluiceError } from './errors.ts';
import { didYouMean } from './suggest.ts';

/**
 * Parameter specs are declared once per pipeline (and per component) and drive validation for
 * every front end: CLI flags, HTTP query parameters and schedule config all go through
 * `parseParams`, so a bad value gets the same error text wherever it came from.
 */
interface BaseSpec<T> {
  readonly description: string;
  readonly default?: T;
}
export interface StringParam extends BaseSpec<string> {
  readonly type: 'string';
  readonly maxLength?: number;
  readonly pattern?: RegExp;
  /** What the text is, for help and errors: `a file path, or - for stdout`. */
  readonly accepts?: string;
}
export interface IntegerParam extends BaseSpec<number> {
  readonly type: 'integer';
  readonly min?: number;
  readonly max?: number;
}
export interface BooleanParam extends BaseSpec<boolean> {
  readonly type: 'boolean';
}
export interface EnumParam<V extends string = string> extends BaseSpec<V> {
  readonly type: 'enum';
  readonly values: readonly V[];
}
/** A calendar date, YYYY-MM-DD. */
export interface DateParam extends BaseSpec<string> {
  readonly type: 'date';
}
export type ParamSpec = StringParam | IntegerParam | BooleanParam | EnumParam | DateParam;
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

/** A validated value, whatever the parameter: what untyped code (a front end, the run) handles. */
export type ParamValue = string | number | boolean | undefined;
export type ParamValues = Readonly<Record<string, ParamValue>>;

/** The value a parameter spec yields: a number, a boolean, one of an enum's values, or text (dates are `YYYY-MM-DD`). */
export type ParamValueOf<S extends ParamSpec> = S extends { readonly type: 'integer' }
  ? number
  : S extends { readonly type: 'boolean' }
    ? boolean
    : S extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
      ? V
      : string;

/** Validated values of declared parameters: a parameter with a default always has a value. */
export type ParamValuesOf<P extends ParamSpecs> = {
  readonly [K in keyof P]: P[K] extends { readonly default: ParamValue } ? ParamValueOf<P[K]> : ParamValueOf<P[K]> | undefined;
};

/** What a front end may pass for a parameter: its value, or for numbers and booleans their text (`'500'`, `'yes'`). */
type RawValueOf<S extends ParamSpec> = ParamValueOf<S> | (S extends { readonly type: 'integer' | 'boolean' } ? string : never);

/** Parameters of a run, checked against the pipeline's declarations when written as a literal. */
export type RunParams<P extends ParamSpecs> = { readonly [K in keyof P]?: RawValueOf<P[K]> };

export const BATCH_SIZE_PARAM = {
  type: 'integer',
  description: 'Rows per batch moved between stages (and per database round trip)',
  default: 1000,
  min: 1,
  max: 50_000,
} as const satisfies IntegerParam;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The words a boolean accepts, case-insensitively, from a command line or a query string. */
const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);
const BOOLEAN_WORDS = 'true or false (also 1/0, yes/no, on/off)';

/** How an error names a parameter: `parameter "soldFrom"` by default, a front end may say `--sold-from`. */
export type ParamLabel = (name: string) => string;
export const paramLabel: ParamLabel = (name) => `parameter "${name}"`;

export interface ParseOptions {
  readonly label?: ParamLabel;
}

function shown(raw: unknown): string {
  return raw === '' ? 'an empty value' : JSON.stringify(raw);
}

function invalid(name: string, label: string, expected: string, raw: unknown): SluiceError {
  return new SluiceError('INVALID_PARAM', `Invalid value for ${label}: expected ${expected}, got ${shown(raw)}.`, { param: name });
}

/** Whether text is one of the boolean words; undefined when it is none of them. */
export function booleanWord(text: string): boolean | undefined {
  const word = text.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
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
      return BOOLEAN_WORDS;
    case 'enum':
      return `one of ${spec.values.join(', ')}`;
    case 'date':
      return 'a date YYYY-MM-DD';
    case 'string':
      if (spec.accepts) return spec.accepts;
      return spec.maxLength ? `text of at most ${spec.maxLength} characters` : 'text';
  }
}

function isRealDate(text: string): boolean {
  const m = DATE_RE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/**
 * Converts one raw value (a string from argv or a query string, or a typed value from config).
 * An empty string is refused, never read as "not given": `--status ""` or `?status=` must not
 * silently drop a filter and export every row. A NUL byte is refused in any text: no database
 * stores it in text, and PostgreSQL would fail the query instead.
 */
export function parseParam(name: string, spec: ParamSpec, raw: unknown, options: ParseOptions = {}): ParamValue {
  if (raw === undefined || raw === null) return spec.default;
  const label = (options.label ?? paramLabel)(name);
  if (Array.isArray(raw)) throw invalid(name, label, `a single value (${describeExpected(spec)})`, raw);
  if (raw === '') throw invalid(name, label, describeExpected(spec), raw);
  if (typeof raw === 'string' && raw.includes('\u0000')) throw invalid(name, label, `${describeExpected(spec)} without NUL characters`, raw);
  switch (spec.type) {
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw invalid(name, label, describeInteger(spec), raw);
      }
      return n;
    }
    case 'boolean': {
      const value = typeof raw === 'boolean' ? raw : typeof raw === 'string' ? booleanWord(raw) : undefined;
      if (value === undefined) throw invalid(name, label, BOOLEAN_WORDS, raw);
      return value;
    }
    case 'enum': {
      if (typeof raw !== 'string' || !spec.values.includes(raw)) throw invalid(name, label, `one of ${spec.values.join(', ')}`, raw);
      return raw;
    }
    case 'date': {
      if (typeof raw !== 'string' || !isRealDate(raw)) throw invalid(name, label, 'a date YYYY-MM-DD', raw);
      return raw;
    }
    case 'string': {
      if (typeof raw !== 'string') throw invalid(name, label, 'text', raw);
      if (spec.maxLength !== undefined && raw.length > spec.maxLength) throw invalid(name, label, describeExpected(spec), raw);
      if (spec.pattern && !spec.pattern.test(raw)) throw invalid(name, label, `text matching ${spec.pattern}`, raw);
      return raw;
    }
  }
}

/**
 * Validates a whole parameter set. Unknown names are refused rather than ignored: a typo such as
 * `--stauts sold` must not silently export every ticket.
 */
export function parseParams(specs: ParamSpecs, raw: Readonly<Record<string, unknown>>, options: ParseOptions = {}): ParamValues {
  const label = options.label ?? paramLabel;
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(specs, name)) {
      const known = Object.keys(specs).join(', ') || 'none';
      throw new SluiceError('INVALID_PARAM', `Unknown ${label(name)} (known parameters: ${known}).${didYouMean(name, Object.keys(specs), label)}`, { param: name });
    }
  }
  const values: Record<string, ParamValue> = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = parseParam(name, spec, raw[name], options);
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
