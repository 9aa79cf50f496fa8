import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README quick start runs as written', async () => {
  const printed = await runReadmeQuickStart(
    fileURLToPath(new URL('../README.md', import.meta.url)),
  );
  expect(printed).toEqual(['user 1 2024-01-01T00:00:00.000Z 1', 'false 2 1']);
});
