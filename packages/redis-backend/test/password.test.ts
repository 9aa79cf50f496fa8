import { inspect } from 'node:util';
import type { Backend } from '@redbrick/core';
import { freePort, type RedisServerHandle, startRedisServer } from '@redbrick/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createRedisBackend } from '../src/index.js';
import { fresh, rejection, waitUntil } from './helpers.js';

const PASSWORD = 'Sup3r-Secret-Pa55word';
const WRONG = 'Wr0ng-Secret-Guess';

let server: RedisServerHandle;
/** Everything written to the console or the process streams while a test runs. */
let output: string[] = [];
const restores: Array<() => void> = [];

beforeAll(async () => {
  server = await startRedisServer({ password: PASSWORD });
});

afterAll(async () => {
  await server.stop();
});

beforeEach(() => {
  output = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const spy = vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      output.push(
        args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 10 }))).join(' '),
      );
    });
    restores.push(() => spy.mockRestore());
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    const spy = vi
      .spyOn(stream, 'write')
      .mockImplementation((chunk: unknown, ...rest: unknown[]) => {
        output.push(String(chunk));
        return (original as (c: unknown, ...r: unknown[]) => boolean)(chunk, ...rest);
      });
    restores.push(() => spy.mockRestore());
  }
});

afterEach(() => {
  for (const restore of restores.splice(0)) restore();
  expect(output.join('\n')).not.toContain(PASSWORD);
  expect(output.join('\n')).not.toContain(WRONG);
});

/** Every way an error can be looked at: message, stack, cause chain, inspect, JSON. */
function everythingAbout(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 10, showHidden: true })];
  let current: unknown = error;
  for (let i = 0; i < 5 && current instanceof Error; i++) {
    parts.push(current.message, current.stack ?? '', JSON.stringify(current));
    current = current.cause;
  }
  return parts.join('\n');
}

function authUrl(password: string): string {
  return `redis://default:${encodeURIComponent(password)}@127.0.0.1:${server.port}`;
}

describe('a password in the URL', () => {
  let backend: Backend;

  beforeEach(async () => {
    backend = await createRedisBackend({ url: authUrl(PASSWORD), commandTimeoutMs: 500 });
  });

  afterEach(async () => {
    if (!server.running) await server.restart();
    await backend.close();
  });

  it('connects, and never shows in util.inspect, JSON or the scoped view', async () => {
    const key = fresh('pw');
    expect(await backend.set(key, 'v')).toBe(true);
    expect(await backend.get(key)).toBe('v');
    const shown = [
      inspect(backend, { depth: 10, showHidden: true }),
      inspect(backend.scoped('tenant'), { depth: 10, showHidden: true }),
      JSON.stringify(backend),
      String(backend),
    ].join('\n');
    expect(shown).not.toContain(PASSWORD);
    expect(inspect(backend)).toContain('default:***@127.0.0.1');
  });

  it('never shows in command errors', async () => {
    const key = fresh('pw-wrongtype');
    await backend.rpush(key, 'a');
    const { error } = await rejection(backend.get(key), 'WRONGTYPE');
    expect(everythingAbout(error)).not.toContain(PASSWORD);
    const scriptError = await backend.pipeline().add('incrBy', key, 1).exec();
    expect(everythingAbout(scriptError[0])).not.toContain(PASSWORD);
  });

  it('never shows in unavailability errors while the server is down', async () => {
    await server.kill();
    await waitUntil('the backend to notice', () => !backend.isConnected);
    const { error } = await rejection(backend.get('k'), 'BACKEND_UNAVAILABLE');
    expect(everythingAbout(error)).not.toContain(PASSWORD);
    expect(error.message).toContain('127.0.0.1');
    const subscribeError = await rejection(
      backend.subscribe('ch', () => undefined),
      'BACKEND_UNAVAILABLE',
    );
    expect(everythingAbout(subscribeError.error)).not.toContain(PASSWORD);
    await server.restart();
    await waitUntil('reconnect', () => backend.isConnected);
    expect(await backend.ping()).toBeGreaterThanOrEqual(0);
  });
});

describe('connection failures with a password', () => {
  it('a wrong password fails with BACKEND_UNAVAILABLE naming authentication, not the password', async () => {
    const { error } = await rejection(
      createRedisBackend({ url: authUrl(WRONG), connectTimeoutMs: 1000 }),
      'BACKEND_UNAVAILABLE',
    );
    expect(error.message).toMatch(/WRONGPASS|auth/i);
    const all = everythingAbout(error);
    expect(all).not.toContain(WRONG);
    expect(all).not.toContain(PASSWORD);
  });

  it('a refused connection does not show the password', async () => {
    const port = await freePort();
    const { error } = await rejection(
      createRedisBackend({
        url: `redis://user:${PASSWORD}@127.0.0.1:${port}`,
        connectTimeoutMs: 500,
      }),
      'BACKEND_UNAVAILABLE',
    );
    expect(error.message).toContain(`user:***@127.0.0.1:${port}`);
    expect(everythingAbout(error)).not.toContain(PASSWORD);
  });

  it('a password given as an option is hidden as well', async () => {
    const backend = await createRedisBackend({
      host: '127.0.0.1',
      port: server.port,
      password: PASSWORD,
    });
    try {
      expect(inspect(backend, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    } finally {
      await backend.close();
    }
  });
});
