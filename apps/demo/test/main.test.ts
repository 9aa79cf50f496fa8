import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type RedisServerHandle, startRedisServer } from '@redbrick/testkit/servers';
import { afterAll, describe, expect, it } from 'vitest';
import { readSse } from './support/sse.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const targets = (process.env.REDBRICK_TARGETS ?? 'memory,redis').split(',').map((s) => s.trim());

/** Starts `node dist/main.js` with a clean environment plus `env`; resolves with its URL. */
async function startMain(env: Record<string, string>): Promise<{
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}> {
  expect(
    existsSync(MAIN),
    'dist/main.js is missing: build the demo first (turbo runs build before test)',
  ).toBe(true);
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = /listening on (http:\/\/\S+)/.exec(output);
    if (match?.[1] && /^backend: .+$/m.test(output))
      return { child, url: match[1], output: () => output, exited };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the demo did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function loginCookie(url: string): Promise<string> {
  const res = await fetch(`${url}api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant: 'acme', user: 'ada' }),
  });
  expect(res.status).toBe(200);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
}

describe('node dist/main.js', () => {
  const servers: RedisServerHandle[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  const cases: Array<[string, () => Promise<Record<string, string>>, RegExp]> = [
    ['memory', async () => ({}), /^backend: memory$/m],
    [
      'redis',
      async () => {
        const server = await startRedisServer();
        servers.push(server);
        return { REDIS_URL: server.url };
      },
      /^backend: redis \(redis:\/\/127\.0\.0\.1:\d+/m,
    ],
  ];
  for (const [name, env, banner] of cases.filter(([n]) => targets.includes(n))) {
    it(`starts on ${name}, prints the URL and the backend, exits cleanly on SIGTERM`, async () => {
      const demo = await startMain(await env());
      expect(demo.output()).toMatch(banner);
      const health = await fetch(`${demo.url}healthz`);
      expect(await health.json()).toMatchObject({ ok: true });
      const page = await fetch(demo.url);
      expect(await page.text()).toContain('redbrick demo');

      // A bad request is a 4xx JSON answer, and the process keeps serving.
      const bad = await fetch(`${demo.url}api/login`, { method: 'POST', body: '{"tenant":' });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ error: { code: 'INVALID_JSON' } });
      expect((await fetch(`${demo.url}healthz`)).status).toBe(200);

      // An open event stream must not keep the process alive.
      const cookie = await loginCookie(demo.url);
      const events = await fetch(`${demo.url}api/events`, { headers: { cookie } });
      const stream = readSse(events);
      await stream.next((e) => e.event === 'hello');

      demo.child.kill('SIGTERM');
      const code = await demo.exited;
      expect(code, demo.output()).toBe(0);
      expect(demo.output()).toContain('SIGTERM: shutting down');
      expect(demo.output()).toContain('bye');
      await stream.ended;
    });
  }

  it.runIf(targets.includes('memory'))('fails with a message on a bad PORT', async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: { PATH: process.env.PATH ?? '', PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain('PORT must be an integer');
  });
});
