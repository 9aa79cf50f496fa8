export {
  Channel,
  type ChannelOptions,
  createChannel,
  createPattern,
  type MessageHandler,
  type MessageOf,
  PatternChannel,
  type PatternMessage,
  type PatternOptions,
  type SubscriberOptions,
} from './channel.js';
export { BufferOverflowError } from './errors.js';
export { type StreamKeys, streamKeys } from './key-layout.js';
export { createPubSub, type PubSub, type PubSubOptions } from './pubsub.js';
export {
  type ConsumeOptions,
  createStream,
  type DeadLetter,
  type PendingEntry,
  type PendingSummary,
  Stream,
  type StreamConsumer,
  type StreamDelivery,
  type StreamHandler,
  type StreamOptions,
} from './stream.js';
export type {
  ChannelSubscription,
  ErrorContext,
  Gap,
  InvalidMessage,
  IteratorOptions,
  MessageIterator,
  MessageMeta,
  OverflowPolicy,
  PubSubHooks,
  Reconnect,
} from './subscription.js';
