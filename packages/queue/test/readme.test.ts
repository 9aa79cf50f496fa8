import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README quick start runs as written', async () => {
  const readme = join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md');
  expect(await runReadmeQuickStart(readme)).toEqual(['{"words":600} completed']);
});
