import { importOptional } from '@redbrick/core';

/**
 * Loads `@redbrick/memory-backend` for the memory and shared-memory targets.
 * testkit does not depend on it (it tests it), so core's `importOptional`
 * tries it as a neighbour of testkit first, then from the directory the
 * tests run in (the package under test has it as a dev dependency; with
 * pnpm it is not visible from testkit's own directory).
 */
export function loadMemoryBackend<M>(): Promise<M> {
  // A variable specifier keeps tsc and bundlers from resolving it eagerly.
  const specifier: string = '@redbrick/memory-backend';
  return importOptional<M>(
    specifier,
    'the memory and shared-memory test targets of @redbrick/testkit',
    (s) => import(s),
  );
}
