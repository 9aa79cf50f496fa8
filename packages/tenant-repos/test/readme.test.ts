import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README quick start runs as written', async () => {
  const printed = await runReadmeQuickStart(
    fileURLToPath(new URL('../README.md', import.meta.url)),
  );
  expect(printed).toEqual(['u1 1 123 false', '0']);
});
