/**
 * The README's app is test/fixtures/shop, which the app and package tests compile and run: each
 * README code block that starts with a `// <file>` comment must be that file, byte for byte.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SHOP = new URL('./fixtures/shop/', import.meta.url);

function namedBlocks(): Array<{ file: string; body: string }> {
  const blocks = [...README.matchAll(/```(?:ts|js)\n\/\/ ([\w./-]+)\n([\s\S]*?)```/g)];
  return blocks.map(([, file, body]) => ({ file: file!, body: body! }));
}

it("shows the shop app's files exactly as the tests run them", () => {
  const blocks = namedBlocks();
  expect(blocks.map((b) => b.file)).toEqual(
    expect.arrayContaining(['pipelines/orders-csv.ts', 'pipelines/order-customers.js', 'app.ts', 'server.ts', 'components/json-lines-source.ts', 'components/mask-emails.ts', 'components/ndjson-sink.ts', 'pipelines/customers-ndjson.ts']),
  );
  for (const { file, body } of blocks) expect(body, file).toBe(readFileSync(new URL(file, SHOP), 'utf8'));
});
