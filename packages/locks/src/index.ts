export {
  CountDownLatch,
  type CountDownLatchOptions,
  latchCountDownScript,
} from './count-down-latch.js';
export {
  type LockErrorOptions,
  LockLostError,
  LockNotAcquiredError,
  type NotAcquiredReason,
} from './errors.js';
export {
  type FencedValue,
  type FencedWriteResult,
  fencedRead,
  fencedWrite,
  fencedWriteScript,
} from './fencing.js';
export {
  type LatchKeys,
  latchKeys,
  type MutexKeys,
  mutexKeys,
  type ReadWriteLockKeys,
  readWriteLockKeys,
  type SemaphoreKeys,
  semaphoreKeys,
} from './key-layout.js';
export type { Lease, LeaseKind } from './lease.js';
export {
  Mutex,
  type MutexHolder,
  type MutexOptions,
  mutexAcquireFairScript,
  mutexAcquireScript,
  mutexExtendScript,
  mutexLeaveQueueScript,
  mutexReleaseFairScript,
  mutexReleaseScript,
} from './mutex.js';
export type { AcquireOptions, LockServiceOptions, WakeupMode } from './options.js';
export { type QuorumLease, QuorumMutex, type QuorumMutexOptions } from './quorum-mutex.js';
export {
  ReadWriteLock,
  readAcquireScript,
  readReleaseScript,
  writeAcquireScript,
  writeReleaseScript,
  writeWithdrawScript,
} from './read-write-lock.js';
export {
  Semaphore,
  type SemaphoreHolder,
  type SemaphoreOptions,
  semaphoreAcquireScript,
  semaphoreExtendScript,
  semaphoreReleaseScript,
} from './semaphore.js';
export {
  isLocalOwnerGone,
  type LockRecord,
  listLocks,
  type RemoveStaleLocksOptions,
  removeStaleLocks,
} from './stale-locks.js';
