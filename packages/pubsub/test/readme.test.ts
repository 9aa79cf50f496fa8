import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

it('the README quick start runs as written', async () => {
  expect(await runReadmeQuickStart(README)).toEqual(['1 {"id":42}']);
});

it('the README stream example runs as written', async () => {
  expect(await runReadmeQuickStart(README, 'Durable streams')).toEqual(['{"invoice":7}', '0']);
});
