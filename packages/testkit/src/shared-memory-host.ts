/*
 * The host process of the `shared-memory` test target (forked by
 * `testTargets()`): owns one memory backend and serves the test process
 * over IPC. Scripts run on the host by name, so the host imports the package
 * under test (the directory the tests run in) and any packages listed in
 * `REDBRICK_SHARED_HOST_IMPORTS` (comma-separated) to register theirs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import './core-scripts.js';
import './conformance/index.js';

type HostModule = {
  createSharedMemoryHost(options: { cluster: boolean }): {
    attach(channel: NodeJS.Process): unknown;
  };
};

const cwd = process.cwd();
const resolver = createRequire(join(cwd, 'package.json'));

async function load<T>(specifier: string): Promise<T> {
  return (await import(pathToFileURL(resolver.resolve(specifier)).href)) as T;
}

function packageUnderTest(): string | undefined {
  try {
    const { name } = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as {
      name?: unknown;
    };
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

const extra = (process.env.REDBRICK_SHARED_HOST_IMPORTS ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const own = packageUnderTest();
for (const specifier of [...(own ? [own] : []), ...extra]) {
  try {
    await load(specifier);
  } catch (error) {
    // The package under test may have no entry point (an app); listed imports must load.
    if (specifier !== own) throw error;
  }
}

const { createSharedMemoryHost } = await load<HostModule>('@redbrick/memory-backend');
createSharedMemoryHost({ cluster: false }).attach(process);
// The test process is gone: nothing left to serve.
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
