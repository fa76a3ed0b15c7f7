import { createRequire } from 'node:module';

/** A family as parse-prometheus-text-format gives it (prom2json's shape). */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  readonly metrics: ReadonlyArray<{ readonly labels?: Record<string, string>; readonly value?: string; readonly buckets?: Record<string, string>; readonly count?: string; readonly sum?: string }>;
}

const parseText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => MetricFamily[];

// Values as Prometheus reads them (Go's ParseFloat: Inf and NaN in any case; prom-client writes `Nan`).
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|[+-]?inf|nan))$/i;

/**
 * Parses exposition text with an independent parser and checks what it lets through: every line is
 * a comment or a well-formed sample, every sample belongs to a family declared before it, no series twice.
 */
export function parseMetrics(text: string): Map<string, MetricFamily> {
  if (!text.endsWith('\n')) throw new Error('exposition text must end with a newline');
  const declared = new Set<string>();
  const series = new Set<string>();
  for (const line of text.split('\n').slice(0, -1)) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      if (declared.has(type[1]!)) throw new Error(`family declared twice: ${line}`);
      declared.add(type[1]!);
      continue;
    }
    if (line === '' || line.startsWith('# HELP ')) continue;
    const sample = SAMPLE.exec(line);
    if (!sample) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const family = sample[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!declared.has(sample[1]!) && !declared.has(family)) throw new Error(`sample of an undeclared family: ${line}`);
    const key = `${sample[1]}${sample[2] ?? ''}`;
    if (series.has(key)) throw new Error(`series twice: ${line}`);
    series.add(key);
  }
  return new Map(parseText(text).map((f) => [f.name, f]));
}

/** The value of one series of a counter or gauge, by its labels (undefined if absent). */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const metric = families.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v) && Object.keys(m.labels ?? {}).length === Object.keys(labels).length);
  return metric?.value === undefined ? undefined : Number(metric.value);
}
