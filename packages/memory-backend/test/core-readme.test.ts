import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

// @redbrick/core cannot depend on a backend, so its README quick start runs here.
it("core's README quick start runs and prints what it says", async () => {
  const readme = fileURLToPath(new URL('../../core/README.md', import.meta.url));
  expect(await runReadmeQuickStart(readme)).toEqual(['1 true']);
});
