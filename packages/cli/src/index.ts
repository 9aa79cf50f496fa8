export {
  type BackupOptions,
  type BackupProgress,
  type BackupResult,
  type BackupSink,
  backup,
} from './backup.js';
export {
  type CleanupAction,
  type CleanupOptions,
  type CleanupResult,
  cleanup,
  type RequireTtlRule,
} from './cleanup.js';
export { type CliIo, runCli } from './cli.js';
export { type Connection, type ConnectOptions, connect } from './connect.js';
export {
  type BackupHeader,
  type BackupRecord,
  type BackupTrailer,
  type EncodedScore,
  FORMAT_VERSION,
} from './format.js';
export { type HealthOptions, type HealthReport, health } from './health.js';
export {
  type CounterSource,
  type MetricsOptions,
  metricsRegistry,
  type RedbrickMetrics,
  renderMetrics,
} from './metrics.js';
export {
  type RestoreLineError,
  type RestoreMode,
  type RestoreOptions,
  type RestoreResult,
  type RestoreSource,
  restore,
} from './restore.js';
export {
  type NamespaceStats,
  type StatsOptions,
  type StatsReport,
  stats,
  type TtlDistribution,
} from './stats.js';
export { type SetTtlOptions, type SetTtlResult, setTtl } from './ttl.js';
export { type WatchOptions, type WatchSample, watch } from './watch.js';
