export { createMemoryBackend, MemoryBackend } from './memory-backend.js';
export type { EvictionPolicy, MemoryBackendOptions } from './options.js';
