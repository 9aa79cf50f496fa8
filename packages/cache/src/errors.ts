import { RedbrickError, type RedbrickErrorOptions } from '@redbrick/core';

/**
 * A factory ran past `hardTimeoutMs` (code `TIMEOUT`). The factory keeps
 * running in the background; its result is stored when it arrives.
 */
export class FactoryTimeoutError extends RedbrickError {
  /** The cache key whose factory timed out. */
  readonly key: string;
  constructor(key: string, timeoutMs: number, options?: RedbrickErrorOptions) {
    super(
      'TIMEOUT',
      `[redbrick/cache] the factory for key ${JSON.stringify(key)} did not finish within hardTimeoutMs (${timeoutMs} ms)`,
      options,
    );
    this.name = 'FactoryTimeoutError';
    this.key = key;
  }
}
