import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README quick start runs as written', async () => {
  const printed = await runReadmeQuickStart(
    fileURLToPath(new URL('../README.md', import.meta.url)),
  );
  expect(printed).toEqual([
    'true 5',
    '2',
    '{"restored":2,"skipped":0,"replaced":0,"errors":[]}',
    '{"name":"Ada","city":"Zürich"} true',
  ]);
});
