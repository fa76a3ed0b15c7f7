import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/core/metrics.ts';
import { SluiceError } from '../../src/core/errors.ts';
import { bearerToken, tokenMatches } from '../../src/http/auth.ts';
import { queryParams } from '../../src/http/handler.ts';
import { acceptsGzip, datedFileName, safeFileName } from '../../src/http/http-output.ts';
import { createLimiter } from '../../src/http/limiter.ts';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { SluiceMetrics } from '../../src/metrics/prometheus.ts';
import { parseMetrics, sampleValue } from '../support/prometheus.ts';
import { publicError } from '../../src/http/respond.ts';

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['br;q=1.0, GZIP;q=0.5', true],
    ['*', true],
    ['x-gzip', true],
    ['gzip;q=0', false],
    ['gzip;q=0.0, identity', false],
    ['deflate, br', false],
    ['identity', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (header, expected) => {
    expect(acceptsGzip(header)).toBe(expected);
  });
});

describe('file names', () => {
  it('dates the download by the UTC day', () => {
    expect(datedFileName('export-csv', 'csv', new Date('2026-03-01T23:30:00-05:00'))).toBe('export-csv-2026-03-02.csv');
  });
  it('cannot break out of the quoted header parameter', () => {
    expect(safeFileName('a"b\r\n; c.csv')).toBe('a_b____c.csv');
  });
});

describe('queryParams', () => {
  it('keeps raw strings and turns a repeated name into an array', () => {
    expect(queryParams('/x?status=sold&q=a%20b&q=c&batchSize=10&empty=')).toEqual({ status: 'sold', q: ['a b', 'c'], batchSize: '10', empty: '' });
    expect(queryParams(undefined)).toEqual({});
  });
});

describe('bearer tokens', () => {
  it('reads only a Bearer header', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
  it('matches only the exact token, whatever the lengths', () => {
    expect(tokenMatches('s3cret', 's3cret')).toBe(true);
    expect(tokenMatches('s3cre', 's3cret')).toBe(false);
    expect(tokenMatches('s3cretX', 's3cret')).toBe(false);
    expect(tokenMatches(undefined, 's3cret')).toBe(false);
  });
});

describe('limiter', () => {
  it('gives out max slots, and each release frees one once', () => {
    const limiter = createLimiter(2);
    const a = limiter.tryAcquire()!;
    const b = limiter.tryAcquire()!;
    expect(limiter.tryAcquire()).toBeUndefined();
    a();
    a();
    expect(limiter.active).toBe(1);
    expect(limiter.tryAcquire()).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    b();
    expect(limiter.active).toBe(1);
    expect(() => createLimiter(0)).toThrow(RangeError);
  });
});

describe('publicError', () => {
  it('shows a client its own mistake, and only the code of ours', () => {
    expect(publicError(new SluiceError('INVALID_PARAM', 'Invalid value for parameter "limit".'))).toEqual({ status: 400, body: { error: 'Invalid value for parameter "limit".' } });
    const internal = publicError(new SluiceError('QUERY_FAILED', 'Query on postgres://x failed: syntax error at SELECT'));
    expect(internal).toEqual({ status: 500, body: { error: 'The export failed (QUERY_FAILED); see the server log.' } });
    expect(publicError(new SluiceError('ABORTED', 'cancelled')).status).toBe(500);
    expect(publicError(new SluiceError('DATABASE_UNREACHABLE', 'Cannot connect to postgres://u@h/db')).body.error).not.toContain('postgres');
  });
});

function summary(status: RunSummary['status'], rows: number, bytes: number, durationMs: number, code?: string): RunSummary {
  return {
    pipeline: 'export-csv',
    status,
    rows,
    bytesWritten: bytes,
    durationMs,
    rowsPerSecond: 0,
    peakRssBytes: 0,
    peakHeapBytes: 0,
    warnings: {},
    stages: [],
    ...(code ? { error: { code, message: 'x' } } : {}),
  };
}

describe('SluiceMetrics', () => {
  it('renders counters, the active gauge and the duration histogram from run summaries', async () => {
    const metrics = new SluiceMetrics();
    metrics.runStarted('export-csv');
    metrics.runStarted('export-csv');
    metrics.runStarted('export-csv');
    metrics.runStarted('export-csv');
    metrics.runEnded('export-csv', summary('succeeded', 1000, 5000, 400));
    metrics.runEnded('export-csv', summary('failed', 10, 50, 2000, 'CONNECTION_LOST'));
    metrics.runEnded('export-csv', summary('aborted', 5, 20, 7000, 'ABORTED'));
    const text = await metrics.render();
    const lines = text.split('\n');
    expect(lines).toContain('sluice_runs_started_total{pipeline="export-csv"} 4');
    expect(lines).toContain('sluice_runs_finished_total{pipeline="export-csv",status="succeeded"} 1');
    expect(lines).toContain('sluice_runs_finished_total{pipeline="export-csv",status="failed"} 1');
    expect(lines).toContain('sluice_runs_finished_total{pipeline="export-csv",status="aborted"} 1');
    expect(lines).toContain('sluice_runs_finished_total{pipeline="export-csv",status="refused"} 0');
    expect(lines).toContain('sluice_runs_failed_total{pipeline="export-csv",code="CONNECTION_LOST"} 1');
    expect(lines).toContain('sluice_rows_exported_total{pipeline="export-csv"} 1015');
    expect(lines).toContain('sluice_bytes_exported_total{pipeline="export-csv"} 5070');
    expect(lines).toContain('sluice_active_runs 1');
    expect(lines).toContain('sluice_run_duration_seconds_bucket{le="0.5",pipeline="export-csv"} 1');
    expect(lines).toContain('sluice_run_duration_seconds_bucket{le="2.5",pipeline="export-csv"} 2');
    expect(lines).toContain('sluice_run_duration_seconds_bucket{le="+Inf",pipeline="export-csv"} 3');
    expect(lines).toContain('sluice_run_duration_seconds_sum{pipeline="export-csv"} 9.4');
    const families = parseMetrics(text);
    // prom-client's process metrics come with a registry of sluice's own.
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_gc_duration_seconds']) expect(families.has(name), name).toBe(true);
  });

  it('counts scheduled jobs: outcomes, skips for overlap and the time of the last success, from before the first fire', async () => {
    const metrics = new SluiceMetrics();
    metrics.jobScheduled('nightly');
    let families = parseMetrics(await metrics.render());
    expect(sampleValue(families, 'sluice_job_last_success_timestamp_seconds', { job: 'nightly' })).toBe(0);
    expect(sampleValue(families, 'sluice_job_skipped_total', { job: 'nightly', reason: 'overlap' })).toBe(0);
    metrics.runStarted('export-csv');
    metrics.runEnded('export-csv', summary('succeeded', 10, 50, 100));
    metrics.jobSucceeded('nightly', new Date('2026-12-01T02:00:05Z'));
    metrics.jobFinished('nightly', 'succeeded');
    metrics.runStarted('export-csv');
    metrics.runSkipped('export-csv');
    metrics.jobSkipped('nightly', 'overlap');
    metrics.jobFinished('nightly', 'skipped');
    families = parseMetrics(await metrics.render());
    expect(sampleValue(families, 'sluice_job_last_success_timestamp_seconds', { job: 'nightly' })).toBe(Date.parse('2026-12-01T02:00:05Z') / 1000);
    expect(sampleValue(families, 'sluice_job_skipped_total', { job: 'nightly', reason: 'overlap' })).toBe(1);
    expect(sampleValue(families, 'sluice_job_runs_total', { job: 'nightly', status: 'skipped' })).toBe(1);
    expect(sampleValue(families, 'sluice_job_runs_total', { job: 'nightly', status: 'succeeded' })).toBe(1);
    // A skipped run is neither failed nor still active.
    expect(sampleValue(families, 'sluice_runs_finished_total', { pipeline: 'export-csv', status: 'failed' })).toBe(0);
    expect(sampleValue(families, 'sluice_runs_finished_total', { pipeline: 'export-csv', status: 'skipped' })).toBe(1);
    expect(sampleValue(families, 'sluice_active_runs')).toBe(0);
  });

  it("registers in the app's own registry when given one, next to the app's metrics, without process metrics twice", async () => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    const metrics = new SluiceMetrics({ registry });
    metrics.runStarted('export-csv');
    const families = parseMetrics(await registry.metrics());
    expect(sampleValue(families, 'sluice_runs_started_total', { pipeline: 'export-csv' })).toBe(1);
    expect(families.has('process_resident_memory_bytes')).toBe(true);
    // Two instances in one process keep apart.
    expect(sampleValue(parseMetrics(await new SluiceMetrics().render()), 'sluice_active_runs')).toBe(0);
  });
});
