import { backendConformance } from '@redbrick/testkit';
import { createMemoryBackend } from '../src/index.js';

backendConformance('memory', () => createMemoryBackend());

backendConformance('memory with keyPrefix and limits', () =>
  createMemoryBackend({ keyPrefix: 'app', maxKeys: 1_000_000, maxMemoryBytes: 1024 ** 3 }),
);
