import { createBackend } from '@redbrick/core';
import { coreScriptsDifferential, testTargets } from '@redbrick/testkit';
import { describe } from 'vitest';

/*
 * Every core script, its `local` body on the memory backend against its `lua`
 * body on one redis-server and on a 3-master cluster (200 cases each).
 */
for (const target of testTargets().filter((t) => t.name !== 'memory')) {
  describe(`memory vs ${target.name}`, () => {
    coreScriptsDifferential({
      left: () => createBackend({ type: 'memory' }),
      right: () => target.make(),
    });
  });
}
