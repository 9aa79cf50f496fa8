// redlock 5's package.json "exports" hides its own typings from NodeNext resolution; these are
// the parts of its API the bench uses.
declare module 'redlock' {
  import type { Redis } from 'ioredis';

  export interface Lock {
    release(): Promise<unknown>;
  }
  export default class Redlock {
    constructor(clients: Redis[], settings?: { retryCount?: number; retryDelay?: number });
    acquire(resources: string[], durationMs: number): Promise<Lock>;
  }
}
