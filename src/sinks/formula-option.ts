import type { BooleanParam } from '../core/params.ts';
import type { StageContext } from '../core/types.ts';

/** The `escapeFormulas` parameter of every text encoder (CSV, TSV, TXT): on unless turned off. */
export const ESCAPE_FORMULAS_PARAM = {
  type: 'boolean',
  default: true,
  description: "Prefix formula-looking text cells with ' so spreadsheets show them as text",
} as const satisfies BooleanParam;

/** The parameters of a text encoder that escapes formulas. */
export type FormulaParams = { readonly escapeFormulas: typeof ESCAPE_FORMULAS_PARAM };

export type FormulaContext = StageContext<FormulaParams>;
