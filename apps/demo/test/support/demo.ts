import type { World } from '@redbrick/testkit';
import { createDemo, type Demo, type DemoOptions } from '../../src/app.js';
import { Client } from './client.js';

/** A demo on a test world, with fast settings; closes with the world. */
export async function openDemo(
  world: World,
  options: Omit<DemoOptions, 'backend'> = {},
): Promise<Demo & { client(): Client; [Symbol.asyncDispose](): Promise<void> }> {
  const demo = await createDemo({
    backend: world.backend,
    backendLabel: world.name,
    upstream: { latencyMs: 300 },
    documents: { stepMs: 40 },
    reminderPollMs: 50,
    ...options,
  });
  return {
    ...demo,
    client: () => new Client(demo.app),
    [Symbol.asyncDispose]: () => demo.close(),
  };
}
