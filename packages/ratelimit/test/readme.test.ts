import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README quick start runs and prints what the README says', async () => {
  const printed = await runReadmeQuickStart(
    fileURLToPath(new URL('../README.md', import.meta.url)),
  );
  expect(printed).toEqual(['true 1 false', 'true 0 false', 'false 0 true']);
});
