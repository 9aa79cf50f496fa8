import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README quick start runs and prints what it says', async () => {
  const printed = await runReadmeQuickStart(
    fileURLToPath(new URL('../README.md', import.meta.url)),
  );
  expect(printed).toEqual(['hello', '1', '{"name":"Ada"}']);
});
