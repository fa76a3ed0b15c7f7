/** What an output path may name, filled in at each fire. */
export interface PlaceholderValues {
  readonly name: string;
  readonly pipeline: string;
  readonly runId: string;
  readonly ext: string;
  /** The fire's moment, shown in the job's time zone. */
  readonly at: Date;
  readonly timezone: string;
}

export const PLACEHOLDERS = ['name', 'pipeline', 'date', 'time', 'runId', 'ext'] as const;
const PLACEHOLDER = /\{([^{}]*)\}/g;

/** The placeholders of a template that are not known ones. */
export function unknownPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
}

/** `YYYY-MM-DD` and `HHmmss` of a moment in a time zone. */
function dateAndTime(at: Date, timezone: string): { date: string; time: string } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(at)
      .map((part) => [part.type, part.value]),
  );
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}${parts.minute}${parts.second}` };
}

/** `exports/{name}-{date}.csv` -> `exports/nightly-2026-12-01.csv`. */
export function expandPlaceholders(template: string, values: PlaceholderValues): string {
  const { date, time } = dateAndTime(values.at, values.timezone);
  const known: Record<string, string> = { name: values.name, pipeline: values.pipeline, runId: values.runId, ext: values.ext, date, time };
  return template.replace(PLACEHOLDER, (whole, name: string) => known[name] ?? whole);
}
