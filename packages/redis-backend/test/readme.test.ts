import { fileURLToPath } from 'node:url';
import { runReadmeQuickStart, startRedisServer } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README quick start runs against a real redis-server', async () => {
  const server = await startRedisServer();
  const previous = process.env.REDIS_URL;
  process.env.REDIS_URL = server.url;
  try {
    const printed = await runReadmeQuickStart(
      fileURLToPath(new URL('../README.md', import.meta.url)),
    );
    expect(printed).toEqual(['hello', 'true']);
  } finally {
    if (previous === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = previous;
    await server.stop();
  }
});
