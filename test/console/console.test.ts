/**
 * The web console in a real headless Chromium, against a real server and SQLite database.
 * SLUICE_SCREENSHOTS=1 also saves the screenshots the README shows (docs/console-*.png).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/core/database.ts';
import { runPipeline } from '../../src/index.ts';
import { openDatabase } from '../../src/db/open.ts';
import { type SluiceServer, createSluiceServer } from '../../src/http/server.ts';
import { close, listen } from '../http/client.ts';
import { bundled, bundledPipeline } from '../support/app.ts';
import { chromiumAvailable, launchChromium } from '../support/browser.ts';
import { sluice } from '../support/cli.ts';
import { scratchDir } from '../support/sqlite.ts';

const TOKEN = 'console-test-token-0123456789';
const ROWS = 300_000;
const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));
const screenshots = process.env.SLUICE_SCREENSHOTS === '1';
const enabled = chromiumAvailable();
const dir = scratchDir('sluice-console-');
const url = `sqlite:${dir.file('console.db')}`;
let database: Database;
let server: SluiceServer;
let base: string;
let browser: Browser;

beforeAll(async () => {
  if (!enabled) return;
  await runPipeline(await bundledPipeline('seed-tickets'), { database: url, params: { count: ROWS } });
  database = openDatabase(url);
  server = createSluiceServer({ database, token: TOKEN, pipelines: await bundled, maxConcurrent: 4 });
  base = await listen(server.server);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (server) await close(server.server);
  await database?.close();
  dir.remove();
});

async function signedIn(width = 1280, height = 900): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height }, acceptDownloads: true });
  await page.goto(`${base}/`);
  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Pipelines' }).waitFor();
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  if (screenshots) await page.screenshot({ path: `${DOCS}console-${name}.png`, fullPage: true });
}

describe.runIf(enabled)('the web console', () => {
  it('refuses a wrong token with an error on the sign-in form, and keeps the token out of URLs and cookies', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.getByLabel('Admin token').fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#signin-error').textContent()).toBe('That token was not accepted.');
    expect(await page.locator('#nav').isHidden()).toBe(true);
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Pipelines' }).waitFor();
    expect(page.url()).not.toContain(TOKEN);
    expect(await page.context().cookies()).toEqual([]);
    await page.close();
  });

  it("lists the pipelines, shows a bad date's error beside its field, and downloads a filtered CSV byte for byte as sluice run writes it", async () => {
    const page = await signedIn();
    await shot(page, 'pipelines');
    const names = await page.locator('#pipeline-list h2').allTextContents();
    expect(names).toEqual(expect.arrayContaining(['export-csv', 'export-xlsx', 'migrate-8digit-barcodes']));
    await page.getByRole('link', { name: 'Export export-csv' }).click();
    await page.getByLabel('Sold from').fill('2026-02-30');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const error = page.locator('#param-soldFrom-error');
    await expect.poll(() => error.textContent()).toBe('Invalid value for parameter "soldFrom": expected a date YYYY-MM-DD, got "2026-02-30".');
    expect(await page.getByLabel('Sold from').getAttribute('aria-invalid')).toBe('true');
    await shot(page, 'export-form');

    await page.getByLabel('Sold from').fill('2026-01-10');
    await page.getByLabel('Sold to').fill('2026-01-11');
    await page.locator('#pipeline-form').getByLabel('Status').selectOption('sold');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^export-csv-\d{4}-\d{2}-\d{2}\.csv$/);
    const bytes = readFileSync((await download.path())!);
    const expected = await sluice(['run', 'export-csv', '--db', url, '--status', 'sold', '--sold-from', '2026-01-10', '--sold-to', '2026-01-11', '--out', '-', '--no-history']);
    expect(expected.stdout.length).toBeGreaterThan(1000);
    expect(bytes.equals(expected.stdout)).toBe(true);
    expect(await page.locator('#param-soldFrom-error').textContent()).toBe('');
    await page.close();
  });

  it("follows a 300,000-row export's progress until it finishes, then shows it in the history", async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'Export export-all-tickets' }).click();
    await page.locator('#pipeline-advanced summary').click();
    await page.getByLabel('Batch size').fill('200');
    const downloaded = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download TSV' }).click();
    await page.getByRole('link', { name: 'Runs' }).click();
    const row = page.locator('#running-table tbody tr').first();
    await row.waitFor({ timeout: 20_000 });
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    while ((await page.locator('#running-table tbody tr').count()) > 0 && Date.now() < deadline) {
      seen.add((await row.locator('td').nth(5).textContent().catch(() => '')) ?? '');
      if (seen.size === 2) await shot(page, 'runs');
      await page.waitForTimeout(250);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2);
    const download = await downloaded;
    expect(readFileSync((await download.path())!, 'utf8').split('\n')).toHaveLength(ROWS + 2);
    const first = page.locator('#runs-table tbody tr').first();
    await expect.poll(() => first.textContent(), { timeout: 10_000 }).toContain('export-all-tickets');
    expect(await first.locator('td').nth(2).textContent()).toBe('succeeded');
    expect(await first.locator('td').nth(5).textContent()).toBe('300,000');
    await page.close();
  });

  it('shows hostile text as text, and its Content-Security-Policy blocks inline script', async () => {
    const page = await signedIn();
    const violations: string[] = [];
    page.on('console', (message) => violations.push(message.text()));
    await page.getByRole('link', { name: 'Export export-csv' }).click();
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    await page.getByLabel('Sold from').fill(hostile);
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const error = page.locator('#param-soldFrom-error');
    await expect.poll(() => error.textContent()).toContain(hostile.replaceAll('"', '\\"'));
    expect(await error.locator('img, script').count()).toBe(0);
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'window.__pwned = 3';
      document.body.append(script);
    });
    await page.waitForTimeout(100);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(violations.join('\n')).toContain('Content Security Policy');
    await page.close();
  });

  it('shows a pipeline that writes to the database without a way to run it, unless the server allows it', async () => {
    const page = await signedIn();
    await page.getByRole('link', { name: 'Open migrate-8digit-barcodes' }).click();
    await expect.poll(() => page.locator('#pipeline-actions').textContent()).toContain('start the server with --console-writes');
    expect(await page.locator('#pipeline-actions button').count()).toBe(0);
    const refused = await page.evaluate(async (token) => {
      const res = await fetch('/api/pipelines/migrate-8digit-barcodes/run', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{"params":{}}' });
      return res.status;
    }, TOKEN);
    expect(refused).toBe(400);
    await page.close();
  });

  it('with --console-writes, runs it only after a dry run and a confirmation', async () => {
    const small = `sqlite:${dir.file('writes.db')}`;
    await runPipeline(await bundledPipeline('seed-tickets'), { database: small, params: { count: 500, legacyBarcodes: true } });
    const db = openDatabase(small);
    const writable = createSluiceServer({ database: db, token: TOKEN, pipelines: await bundled, console: { allowWrites: true } });
    const writableBase = await listen(writable.server);
    try {
      const page = await browser.newPage();
      await page.goto(`${writableBase}/`);
      await page.getByLabel('Admin token').fill(TOKEN);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('link', { name: 'Open migrate-8digit-barcodes' }).click();
      const real = page.getByRole('button', { name: 'Run for real' });
      expect(await real.isDisabled()).toBe(true);
      await page.getByRole('button', { name: 'Dry run first' }).click();
      await expect.poll(() => page.locator('#form-status').textContent()).toContain('Dry run done: nothing was changed');
      expect(await page.locator('#run-summary').textContent()).toContain('To change: 500');
      const [short] = await db.query({ text: "SELECT count(*) FROM tickets WHERE length(barcode) < 8", values: [] });
      expect(Number(short![0])).toBe(500);
      page.once('dialog', (dialog) => void dialog.accept());
      await real.click();
      await expect.poll(() => page.locator('#form-status').textContent(), { timeout: 20_000 }).toBe('Done.');
      const [left] = await db.query({ text: "SELECT count(*) FROM tickets WHERE length(barcode) < 8", values: [] });
      expect(Number(left![0])).toBe(0);
      await page.close();
    } finally {
      await close(writable.server);
      await db.close();
    }
  });

  it('can be used from the keyboard alone', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.getByLabel('Admin token').focus();
    await page.keyboard.type(TOKEN);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Pipelines' }).waitFor();
    await page.getByRole('link', { name: 'Export export-csv' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'export-csv' }).waitFor();
    await page.getByLabel('Sold from').focus();
    await page.keyboard.type('yesterday');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('param-soldFrom');
    await page.close();
  });

  it('works on a phone-sized screen (and so at 200% zoom)', async () => {
    const page = await signedIn(390, 844);
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.getByRole('link', { name: 'Export export-csv' }).click();
    await page.getByRole('heading', { name: 'export-csv' }).waitFor();
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.locator('nav').getByRole('link', { name: 'Pipelines' }).click();
    await shot(page, 'phone-pipelines');
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    await shot(page, 'phone-runs');
    await page.close();
  });
});
