import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readmeCodeBlock } from '@redbrick/testkit';
import { expect, it } from 'vitest';

it('the README shared-memory example runs as a real node:cluster app and prints 200', async () => {
  const readme = fileURLToPath(new URL('../README.md', import.meta.url));
  // The example is plain JavaScript (no type annotations), so node runs it as is.
  const code = readmeCodeBlock(readme, 'Shared memory across processes');
  const dir = fileURLToPath(new URL('./.readme/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}shared-memory-${process.pid}-${Date.now()}.mjs`;
  writeFileSync(file, code);
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [file], { timeout: 30_000 }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
      );
    });
    expect(stdout.trim()).toBe('200');
  } finally {
    rmSync(file, { force: true });
  }
});
