export { createMemoryBackend, MemoryBackend } from './memory-backend.js';
export type { EvictionPolicy, MemoryBackendOptions } from './options.js';
export type { SharedMemoryChannel } from './shared/channel.js';
export { createSharedMemoryBackend, type SharedMemoryBackendOptions } from './shared/client.js';
export {
  createSharedMemoryHost,
  type SharedMemoryHost,
  type SharedMemoryHostOptions,
} from './shared/host.js';
