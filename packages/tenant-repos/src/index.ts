export {
  Batches,
  type BatchesOptions,
  batchDrainScript,
  batchEnqueueScript,
  batchKeys,
  batchMarkScript,
  batchRegistryKeys,
  batchTrimScript,
  batchUnmarkScript,
} from './batches.js';
export { Generic, type GenericOptions, genericKeys } from './generic.js';
export {
  HandlerState,
  type HandlerStateOptions,
  handlerStateKeys,
  hashWriteScript,
} from './handler-state.js';
export {
  type ExpressSessionClasses,
  SessionStore,
  type SessionStoreOptions,
  type StoreCallback,
  type StoredCookie,
  type StoredSession,
  sessionStoreKeys,
} from './session-store.js';
export {
  type Session,
  Sessions,
  type SessionsOptions,
  sessionCreateScript,
  sessionGetScript,
  sessionKeys,
  sessionUpdateScript,
} from './sessions.js';
export {
  SharedState,
  type SharedStateOptions,
  sharedStateDeleteScript,
  sharedStateKeys,
  sharedStateWriteScript,
} from './shared-state.js';
export { Tables, type TablesOptions, tableKeys } from './tables.js';
export { contextual, currentTenant, type TenantContext, withTenant } from './tenant-context.js';
export {
  ThreadBuffer,
  type ThreadBufferOptions,
  ThreadLimitError,
  threadAppendScript,
  threadBufferKeys,
  threadDeleteScript,
} from './thread-buffer.js';
export {
  registryDeleteScript,
  registryGetOrCreateScript,
  ThreadRegistry,
  type ThreadRegistryOptions,
  threadRegistryKeys,
} from './thread-registry.js';
export {
  type FiredTrigger,
  type TriggerHandler,
  Triggers,
  type TriggersOptions,
  triggerCancelAllScript,
  triggerCancelScript,
  triggerClaimScript,
  triggerKeys,
  triggerScheduleScript,
} from './triggers.js';
export {
  type AnyFieldCodec,
  type FieldName,
  type FieldSpec,
  fields,
  type UserRecord,
  Users,
  type UsersOptions,
  userKeys,
  usersWriteScript,
  type WriteOptions,
} from './users.js';
export { MAX_ID_LENGTH, tenantScope } from './validate.js';
