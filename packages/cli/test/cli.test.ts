import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServerHandle, startRedisServer } from '@redbrick/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, redbrick } from './support/cli.js';

const PASSWORD = 'pa55-Secret-x9';
const dir = mkdtempSync(join(tmpdir(), 'redbrick-cli-bin-'));
let server: RedisServerHandle;
let url: string;

beforeAll(async () => {
  build();
  server = await startRedisServer({
    password: PASSWORD,
    args: ['--maxmemory', '100mb', '--maxmemory-policy', 'allkeys-lru'],
  });
  url = server.url;
  expect(url).toContain(PASSWORD);
});
afterAll(() => server?.stop());

const noSecret = (r: { stdout: string; stderr: string }) => {
  expect(r.stdout).not.toContain(PASSWORD);
  expect(r.stderr).not.toContain(PASSWORD);
};

describe('redbrick (the command)', () => {
  it('health: healthy, with the eviction warning, never printing the password', async () => {
    const r = await redbrick(['health', '--url', url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^HEALTHY {2}redis:\/\/:\*\*\*@127\.0\.0\.1:\d+ \(redis /);
    expect(r.stdout).toContain('latency      p50 ');
    expect(r.stdout).toContain('of 100.0 MiB');
    expect(r.stdout).toContain('policy allkeys-lru');
    expect(r.stdout).toContain(
      '! eviction policy "allkeys-lru" may evict queue, stream and lock keys',
    );
    expect(r.stdout).toMatch(/role master/);
    noSecret(r);
    const json = await redbrick(['health', '--json'], { REDIS_URL: url });
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { ok: boolean; memory: { maxBytes: number } };
    expect(report).toMatchObject({ ok: true, memory: { maxBytes: 100 * 1024 * 1024 } });
    noSecret(json);
  });

  it('health: exits 1 with a clear reason within the timeout when the server is stopped', async () => {
    const stopped = await startRedisServer({ password: PASSWORD });
    const stoppedUrl = stopped.url;
    await stopped.stop();
    const r = await redbrick(['health', '--url', stoppedUrl, '--timeout', '1000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^UNHEALTHY after \d+ ms\n {2}- cannot connect: .*could not connect to redis:\/\/:\*\*\*@127\.0\.0\.1:\d+.* within 1000 ms: connect ECONNREFUSED/,
    );
    // The timeout plus process start-up, with a generous margin.
    expect(r.ms).toBeLessThan(8000);
    noSecret(r);
    const json = await redbrick(['health', '--json', '--timeout', '500'], {
      REDIS_URL: stoppedUrl,
    });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      reasons: [expect.stringContaining('ECONNREFUSED')],
    });
    noSecret(json);
  });

  it('backup, restore (refusing, replacing, prefixing), stats, ttl, cleanup and watch', async () => {
    await server.command('SET', 'cli:greeting', 'héllo 🌍\u0000');
    await server.command('HSET', 'cli:user:1', 'name', 'Ada');
    await server.command('SET', 'cli:lock:job', 'token');
    await server.command('SET', 'cli:cache:a', '1', 'EX', '500');
    const file = join(dir, 'cli.jsonl');
    const b = await redbrick(['backup', '--url', url, '--match', 'cli:*', '-o', file]);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^backed up 4 keys \(\d+ B\) to .*cli\.jsonl\n$/);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(JSON.parse(lines.at(-1) ?? '')).toEqual({ redbrick: 'end', keys: 4 });

    const refused = await redbrick(['restore', file, '--url', url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('4 key(s) of the backup already exist');
    expect(refused.stderr).toContain('Use --replace or --skip-existing');

    const copied = await redbrick(['restore', file, '--url', url, '--prefix', 'copy:']);
    expect(copied.code).toBe(0);
    expect(copied.stdout).toBe('restored 4 keys (0 replaced), skipped 0 existing, 0 bad line(s)\n');
    expect(await server.command('GET', 'copy:cli:greeting')).toBe('héllo 🌍\u0000');
    expect(Number(await server.command('TTL', 'copy:cli:cache:a'))).toBeGreaterThan(400);

    const replaced = await redbrick(['restore', file, '--url', url, '--replace', '--json']);
    expect(JSON.parse(replaced.stdout)).toEqual({
      restored: 4,
      skipped: 0,
      replaced: 4,
      errors: [],
    });
    const skipped = await redbrick(['restore', file, '--url', url, '--skip-existing']);
    expect(skipped.stdout).toBe(
      'restored 0 keys (0 replaced), skipped 4 existing, 0 bad line(s)\n',
    );

    const s = await redbrick(['stats', '--url', url, '--match', 'copy:*', '--depth', '2']);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^4 keys matching copy:\*/);
    expect(s.stdout).toMatch(/copy:cli +4 /);

    const t = await redbrick(['ttl', '--url', url, '--match', 'copy:*', '--set', '900']);
    expect(t.stdout).toBe('4 key(s) matched, 4 changed (TTL 900 s)\n');

    const dry = await redbrick([
      'cleanup',
      '--url',
      url,
      '--dry-run',
      '--require-ttl',
      'cli:user:*=60',
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would expire in 60 s  cli:user:1  [missing-ttl]');
    expect(dry.stdout).toContain('(dry run: nothing changed)');
    expect(Number(await server.command('TTL', 'cli:user:1'))).toBe(-1);

    const w = await redbrick(['watch', '--url', url, '--count', '2', '--interval', '100']);
    expect(w.code).toBe(0);
    const watched = w.stdout.trim().split('\n');
    expect(watched).toHaveLength(2);
    expect(watched[0]).toMatch(
      /^\d{4}-\d\d-\d\dT.*Z {2}ops\/s \d+ {2}mem .* {2}clients \d+ {2}hit .* {2}evicted 0 \(\+0\) {2}ping [\d.]+ ms {2}keys \d+$/,
    );
    for (const r of [b, refused, copied, replaced, s, t, dry, w]) noSecret(r);
  });

  it('bad input: missing file, corrupted line, unknown type; --continue-on-error', async () => {
    const missing = await redbrick(['restore', join(dir, 'nope.jsonl'), '--url', url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /redbrick restore: \[redbrick\/cli\] cannot read the backup file ".*nope\.jsonl": no such file/,
    );

    const bad = join(dir, 'bad.jsonl');
    writeFileSync(
      bad,
      [
        '{"redbrick":"backup","version":1,"createdAt":"","source":"redis","match":"*"}',
        '{"key":"bad:a","type":"string","ttlMs":null,"value":"1"}',
        '{"key":"bad:b","type":"string","ttlMs":null,"val',
        '{"key":"bad:c","type":"geo","ttlMs":null,"value":"1"}',
        '{"redbrick":"end","keys":3}',
      ].join('\n'),
    );
    const r = await redbrick(['restore', bad, '--url', url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.jsonl line 3: is not valid JSON/);
    expect(await server.command('EXISTS', 'bad:a')).toBe(0);

    const c = await redbrick(['restore', bad, '--url', url, '--continue-on-error']);
    expect(c.code).toBe(1);
    expect(c.stdout).toBe('restored 1 keys (0 replaced), skipped 0 existing, 2 bad line(s)\n');
    expect(c.stderr).toMatch(/line 3: is not valid JSON/);
    expect(c.stderr).toMatch(/line 4: has the unknown type "geo"/);
    expect(await server.command('GET', 'bad:a')).toBe('1');
  });

  it('usage errors exit 2', async () => {
    const none = await redbrick([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain('usage: redbrick <command>');
    const unknown = await redbrick(['explode', '--url', url]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "explode"');
    const flag = await redbrick(['health', '--nope']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--nope'");
    const ttl = await redbrick(['ttl', '--url', url, '--match', 'x*']);
    expect(ttl.code).toBe(2);
    expect(ttl.stderr).toContain('ttl needs exactly one of --set SECONDS and --persist');
    const badUrl = await redbrick(['stats', '--url', 'http://user:hunter2@x']);
    expect(badUrl.code).toBe(1);
    expect(badUrl.stderr).toContain('unknown scheme "http:"');
    expect(badUrl.stderr).not.toContain('hunter2');
  });
});
