import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, type BackendConfig, createBackend } from '@redbrick/core';
import {
  type Instance,
  type InstanceSettings,
  startLocalInstance,
  startProcessInstance,
} from './instances.js';

/** `REDBRICK_SOAK=1`: longer load and more faults, still bounded (`REDBRICK_SOAK_MS`, default 10 min). */
export const SOAK = process.env.REDBRICK_SOAK === '1';
/** Upper bound of one soak scenario's load phase, in ms. */
export const SOAK_MS = Math.min(
  Number(process.env.REDBRICK_SOAK_MS ?? 600_000) || 600_000,
  3_600_000,
);

/** The instances of one scenario, their driver-side backend, and cleanup. */
export interface Fleet {
  prefix: string;
  instances: Instance[];
  /** The driver's own connection, scoped like the instances. */
  backend: Backend;
  settings: InstanceSettings;
  close(): Promise<void>;
}

function settingsFor(prefix: string, overrides: Partial<InstanceSettings>): InstanceSettings {
  return { prefix, rateLimit: 20, lockTtlMs: 4_000, claimIdleMs: 1_500, ...overrides };
}

/** `count` worker processes forked from `dist/worker.js`, each with its own connection from `config`. */
export async function processFleet(
  config: BackendConfig,
  count: number,
  overrides: Partial<InstanceSettings> = {},
): Promise<Fleet> {
  const prefix = `it-${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'redbrick-it-'));
  const settings = settingsFor(prefix, overrides);
  const root = await createBackend(config);
  const instances = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startProcessInstance(`w${i + 1}`, config, settings, join(dir, `w${i + 1}.log`)),
    ),
  );
  return {
    prefix,
    instances,
    backend: root.scoped(prefix),
    settings,
    close: async () => {
      for (const instance of instances) if (instance.alive) await instance.kill?.();
      await root.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `count` app instances in this process on one shared backend (the memory target). */
export async function localFleet(
  root: Backend,
  count: number,
  overrides: Partial<InstanceSettings> = {},
): Promise<Fleet> {
  const prefix = `it-${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'redbrick-it-'));
  const settings = settingsFor(prefix, overrides);
  const backend = root.scoped(prefix);
  const instances = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      startLocalInstance(`w${i + 1}`, backend, settings, join(dir, `w${i + 1}.log`)),
    ),
  );
  return {
    prefix,
    instances,
    backend,
    settings,
    close: async () => {
      for (const instance of instances) if (instance.alive) await instance.stop();
      await root.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
