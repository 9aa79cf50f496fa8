import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createBackendFromEnv } from '@redbrick/core';
import { createDemo } from './app.js';
import { readConfig } from './config.js';

/** How long shutdown waits for open connections before cutting them, in ms. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main(): Promise<void> {
  const config = readConfig();
  const backend = await createBackendFromEnv();
  const demo = await createDemo({ backend, backendLabel: config.backendLabel });
  const server = serve({ fetch: demo.app.fetch, port: config.port, hostname: config.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  console.log(`redbrick demo listening on http://${host}:${port}/`);
  console.log(`backend: ${config.backendLabel}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    const closed = new Promise<void>((resolve) => server.close(() => resolve())); // stop accepting
    if ('closeIdleConnections' in server) server.closeIdleConnections();
    const force = setTimeout(() => {
      if ('closeAllConnections' in server) server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    try {
      await demo.close(); // ends event streams, lets running jobs finish, stops workers
      // Connections whose last response (an event stream) just ended are idle now.
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      await closed;
      clearTimeout(force);
      await backend.close();
      console.log('bye');
      process.exitCode = 0;
    } catch (error) {
      console.error('[demo] shutdown failed', error);
      process.exitCode = 1;
    }
  };
  // A background failure (a worker, a poll loop, a client that went away) is logged, never fatal.
  process.on('unhandledRejection', (reason) => console.error('[demo] unhandled rejection', reason));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error('[demo] failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
