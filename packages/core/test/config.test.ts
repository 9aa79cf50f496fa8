import { describe, expect, it } from 'vitest';
import {
  configFromEnv,
  isRedbrickError,
  parseBackendConfig,
  parseRedisUrl,
  redactUrl,
} from '../src/index.js';

function configError(fn: () => unknown): Error & { code: string; field?: string } {
  try {
    fn();
  } catch (error) {
    expect(isRedbrickError(error)).toBe(true);
    return error as Error & { code: string; field?: string };
  }
  throw new Error('expected a RedbrickError');
}

describe('backend config', () => {
  it('defaults to memory and accepts the documented shapes', () => {
    expect(parseBackendConfig()).toEqual({ type: 'memory' });
    expect(parseBackendConfig({ type: 'redis', url: 'redis://127.0.0.1:6379/0' }).type).toBe(
      'redis',
    );
    expect(
      parseBackendConfig({ type: 'redis', cluster: { nodes: ['redis://127.0.0.1:7000'] } }).type,
    ).toBe('redis');
    expect(
      parseBackendConfig({
        type: 'redis',
        sentinel: { sentinels: ['127.0.0.1:26379'], name: 'mymaster' },
      }).type,
    ).toBe('redis');
  });

  it('rejects an unknown URL scheme, naming the field and what is allowed', () => {
    const error = configError(() =>
      parseBackendConfig({ type: 'redis', url: 'http://127.0.0.1:6379' }),
    );
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toMatch(/url/);
    expect(error.message).toMatch(/redis:\/\/, rediss:\/\//);
  });

  it('rejects port 0 in a URL and in options', () => {
    const fromUrl = configError(() =>
      parseBackendConfig({ type: 'redis', url: 'redis://127.0.0.1:0' }),
    );
    expect(fromUrl.message).toMatch(/port must be an integer from 1 to 65535/);
    const fromOptions = configError(() => parseBackendConfig({ type: 'redis', port: 0 }));
    expect(fromOptions.message).toMatch(/port: port must be an integer from 1 to 65535/);
    expect(fromOptions.field).toBe('port');
  });

  it('rejects a negative default TTL and other bad numbers', () => {
    const ttl = configError(() => parseBackendConfig({ type: 'memory', defaultTtlMs: -1 }));
    expect(ttl.message).toMatch(/defaultTtlMs must be a positive integer/);
    expect(ttl.field).toBe('defaultTtlMs');
    expect(configError(() => parseBackendConfig({ type: 'memory', maxKeys: 1.5 })).message).toMatch(
      /maxKeys/,
    );
    expect(
      configError(() => parseBackendConfig({ type: 'redis', commandTimeoutMs: 0 })).message,
    ).toMatch(/commandTimeoutMs/);
  });

  it('rejects unknown types and options', () => {
    expect(configError(() => parseBackendConfig({ type: 'mongo' })).message).toMatch(
      /type must be one of/,
    );
    expect(configError(() => parseBackendConfig({ type: 'memory', maxKey: 3 })).message).toMatch(
      /unknown option\(s\) maxKey/,
    );
  });

  it('never puts a password into an error message', () => {
    const error = configError(() => parseRedisUrl('redis://user:s3cret@host:0'));
    expect(error.message).not.toMatch(/s3cret/);
    const bad = configError(() => parseRedisUrl('redis://user:s3cret@[bad'));
    expect(bad.message).not.toMatch(/s3cret/);
    expect(redactUrl('redis://user:s3cret@host:1/0')).toBe('redis://user:***@host:1/0');
    expect(redactUrl('rediss://:s3cret@host')).toBe('rediss://:***@host');
  });

  it('parses redis URLs', () => {
    expect(parseRedisUrl('rediss://u:p%40ss@example.com:6380/2')).toEqual({
      host: 'example.com',
      port: 6380,
      tls: true,
      username: 'u',
      password: 'p@ss',
      db: 2,
    });
    expect(parseRedisUrl('127.0.0.1:7000')).toEqual({ host: '127.0.0.1', port: 7000, tls: false });
    expect(() => parseRedisUrl('redis://h/abc')).toThrow(/database must be an integer/);
  });

  it('reads the environment', () => {
    expect(configFromEnv({})).toEqual({ type: 'memory' });
    expect(
      configFromEnv({
        REDIS_URL: 'redis://h:1',
        REDIS_KEY_PREFIX: 'app',
        REDIS_DEFAULT_TTL: '60',
        REDIS_MAX_CONNECTIONS: '5',
      }),
    ).toEqual({
      type: 'redis',
      url: 'redis://h:1',
      keyPrefix: 'app',
      defaultTtlMs: 60_000,
      maxConnections: 5,
    });
    expect(configFromEnv({ REDIS_CLUSTER_NODES: 'a:1, b:2' })).toEqual({
      type: 'redis',
      cluster: { nodes: ['a:1', 'b:2'] },
    });
    expect(
      configError(() => configFromEnv({ REDIS_URL: 'redis://h', REDIS_DEFAULT_TTL: '-5' })).message,
    ).toMatch(/REDIS_DEFAULT_TTL/);
  });
});
