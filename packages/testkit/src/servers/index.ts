export {
  type RedisClusterHandle,
  type RedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.js';
export {
  type RedisSentinelHandle,
  type RedisSentinelOptions,
  startRedisSentinel,
} from './redis-sentinel.js';
export {
  assertRedisInstalled,
  freePort,
  type RedisServerHandle,
  type RedisServerOptions,
  startRedisServer,
} from './redis-server.js';
