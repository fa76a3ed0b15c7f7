import { SluiceError } from '../core/errors.ts';
import { type ParamSpecs, booleanWord, describeExpected } from '../core/params.ts';
import { didYouMean } from '../core/suggest.ts';

/** `soldFrom` → `sold-from`: a parameter's flag, without the dashes. */
export function flagName(param: string): string {
  return param.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** How CLI errors name a parameter: the flag as the user types it. */
export const flagLabel = (param: string): string => `--${flagName(param)}`;

/** A command line read against the options a command accepts. */
export interface CommandLine {
  /** Words that are not options or their values, in order. */
  readonly positionals: readonly string[];
  /** Raw option values by parameter name: strings as typed, `true`/`false` for bare or negated booleans, arrays when repeated. */
  readonly values: Readonly<Record<string, unknown>>;
  readonly help: boolean;
}

export interface ReadArgsContext {
  /** Where to find the accepted flags, for the unknown-flag message: `sluice run export-csv --help`. */
  readonly helpCommand: string;
}

function usage(message: string): SluiceError {
  return new SluiceError('USAGE', message);
}

function add(values: Record<string, unknown>, name: string, value: unknown): void {
  const previous = values[name];
  values[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
}

/** `--out` takes the next word as its value unless that is another option (`-` alone is stdout, a value). */
function isValueWord(word: string | undefined): word is string {
  return word !== undefined && !(word.startsWith('--') && word.length > 2);
}

/**
 * Reads argv against option specs (camelCase names, flags in kebab-case). The rules are few and
 * strict, because a misread flag can mean a wrong export: a value option always takes a value
 * (`--limit` alone is an error, never "no limit"); a boolean is true when bare, false as
 * `--no-x`, and otherwise takes only an explicit word (`--dry-run=yes`, `--dry-run false`) that
 * the shared parameter code validates; an unknown flag is an error with the nearest known one.
 */
export function readArgs(args: readonly string[], specs: ParamSpecs, context: ReadArgsContext): CommandLine {
  const byFlag = new Map(Object.keys(specs).map((name) => [flagName(name), name]));
  const positionals: string[] = [];
  const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (word === '--help' || word === '-h') {
      help = true;
      continue;
    }
    if (!word.startsWith('--') || word.length === 2) {
      if (word.startsWith('-') && word.length > 1 && !/^-\d/.test(word)) throw unknownFlag(word, byFlag, context);
      positionals.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const flag = word.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : word.slice(eq + 1);
    const name = byFlag.get(flag);
    if (name !== undefined) {
      const spec = specs[name]!;
      if (inline !== undefined) add(values, name, inline);
      else if (spec.type === 'boolean') {
        const next = args[i + 1];
        if (next !== undefined && booleanWord(next) !== undefined) add(values, name, args[++i]);
        else add(values, name, true);
      } else if (isValueWord(args[i + 1])) add(values, name, args[++i]);
      else throw usage(`--${flag} needs a value: ${describeExpected(specs[name]!)}.`);
      continue;
    }
    const negated = flag.startsWith('no-') ? byFlag.get(flag.slice(3)) : undefined;
    if (negated !== undefined && specs[negated]!.type === 'boolean' && inline === undefined) {
      add(values, negated, false);
      continue;
    }
    throw unknownFlag(`--${flag}`, byFlag, context);
  }
  return { positionals, values, help };
}

function unknownFlag(flag: string, byFlag: ReadonlyMap<string, string>, context: ReadArgsContext): SluiceError {
  const hint = didYouMean(flag.replace(/^-+/, ''), byFlag.keys(), (f) => `--${f}`);
  return usage(`Unknown option ${flag}.${hint} See \`${context.helpCommand}\` for the options it takes.`);
}
