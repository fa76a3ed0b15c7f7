import { SluiceError } from './errors.ts';
import type { Value } from './values.ts';
import { type Dialect, type SqlQuery, placeholder, quoteIdent } from './database.ts';

// A NUL never occurs in SQL that sluice writes, so it cannot be mistaken for a token.
const TOKEN = /\u0000([^\u0000]+)\u0000/g;

/**
 * Composes one statement from parts built separately (a transform's SET expressions, a source's
 * key range), each binding values as it goes. `bind` hands out a token, and `render` numbers the
 * tokens in the order they stand in the final text: SQLite's `?` are positional, and the parts
 * are not built in text order. A `slot` is a value given only at `render`, so one text serves
 * every execution of a statement (a page's key range).
 */
export class SqlBinder {
  readonly #values: Value[] = [];

  constructor(readonly dialect: Dialect) {}

  bind(value: Value): string {
    this.#values.push(value);
    return `\u0000${this.#values.length - 1}\u0000`;
  }

  slot(name: string): string {
    if (/^\d/.test(name)) throw new SluiceError('INTERNAL', `SqlBinder: a slot name must not start with a digit: ${name}`);
    return `\u0000${name}\u0000`;
  }

  /** True for rows whose integer `column` is not among `keys`; one bound value, whatever their number. */
  notAmong(column: string, keys: Iterable<number>): string {
    const list = [...keys];
    if (list.length === 0) return 'TRUE';
    const name = quoteIdent(column);
    if (this.dialect === 'postgres') return `NOT (${name} = ANY(${this.bind(`{${list.join(',')}}`)}::bigint[]))`;
    return `${name} NOT IN (SELECT value FROM json_each(${this.bind(JSON.stringify(list))}))`;
  }

  render(text: string, slots: Readonly<Record<string, Value>> = {}): SqlQuery {
    const values: Value[] = [];
    const rendered = text.replace(TOKEN, (_, name: string) => {
      const value = /^\d/.test(name) ? this.#values[Number(name)] : slots[name];
      if (value === undefined) throw new SluiceError('INTERNAL', `SqlBinder: no value for ${/^\d/.test(name) ? `bound value ${name}` : `slot "${name}"`}.`);
      values.push(value);
      return placeholder(this.dialect, values.length);
    });
    return { text: rendered, values };
  }
}

/**
 * A tagged template for short statements: every interpolated value is bound, never spliced.
 * `sqlFor(db.dialect)\`SELECT status FROM runs WHERE id = ${id}\``
 */
export function sqlFor(dialect: Dialect): (strings: TemplateStringsArray, ...values: Value[]) => SqlQuery {
  return (strings, ...values) => {
    const binder = new SqlBinder(dialect);
    const text = strings.reduce((sql, part, i) => sql + part + (i < values.length ? binder.bind(values[i]!) : ''), '');
    return binder.render(text);
  };
}
