import type { Options } from 'yargs';
import type { ParamSpecs } from '../core/params.ts';
import { describeExpected } from '../core/params.ts';

export function flagName(param: string): string {
  return param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Pipeline parameters as yargs options. Values stay strings here: validation happens in
 * `parseParams`, the same code (and error text) as for HTTP query parameters.
 */
export function paramOptions(specs: ParamSpecs): Record<string, Options> {
  const options: Record<string, Options> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const help = `${spec.description} (${describeExpected(spec)})`;
    options[flagName(name)] = {
      type: spec.type === 'boolean' ? 'boolean' : 'string',
      describe: help,
      group: 'Pipeline parameters:',
      ...(spec.default !== undefined ? { default: spec.default } : {}),
    };
  }
  return options;
}

/** The parameter values that were given (defaults are applied by parseParams). */
export function paramValues(specs: ParamSpecs, argv: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const name of Object.keys(specs)) {
    const value = argv[name];
    if (value !== undefined) values[name] = value;
  }
  return values;
}
