export type { RedisBackendConfig } from './options.js';
export { createRedisBackend, RedisBackend } from './redis-backend.js';
