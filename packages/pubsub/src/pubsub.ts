import { type Backend, ValidationError } from '@redbrick/core';
import type { z } from 'zod';
import { Channel, checkSubscriberOptions, type MessageOf, PatternChannel } from './channel.js';
import { PKG } from './errors.js';
import { Stream } from './stream.js';
import type { IteratorOptions, PubSubHooks } from './subscription.js';
import { checkOptionalInteger } from './validation.js';

/** Options of {@link createPubSub}: a backend and defaults for every channel and stream it makes. */
export interface PubSubOptions extends PubSubHooks, IteratorOptions {
  backend: Backend;
  /** Default `maxLen` of streams (approximate trimming). @default undefined (never trimmed) */
  maxLen?: number;
}

/** Makes channels, patterns and streams on one backend with shared hooks. */
export interface PubSub {
  /** A typed channel (`publish`, `subscribe`). */
  channel<S extends z.ZodType | undefined = undefined>(
    name: string,
    schema?: S,
  ): Channel<MessageOf<S>>;
  /** A pattern subscription (`events.*`). */
  pattern<S extends z.ZodType | undefined = undefined>(
    pattern: string,
    schema?: S,
  ): PatternChannel<MessageOf<S>>;
  /** A durable stream with consumer groups. */
  stream<S extends z.ZodType | undefined = undefined>(
    name: string,
    schema?: S,
  ): Stream<MessageOf<S>>;
}

/**
 * One entry point: `const ps = createPubSub({ backend }); ps.channel('orders', schema)`.
 */
export function createPubSub(options: PubSubOptions): PubSub {
  if (options === null || typeof options !== 'object') {
    throw new ValidationError(`${PKG} options must be an object`, { field: 'options' });
  }
  const { maxLen, ...shared } = options;
  // Bad defaults fail here, not at the first channel.
  checkSubscriberOptions(shared);
  checkOptionalInteger(maxLen, 'maxLen', 1);
  return {
    channel: (name, schema) => new Channel({ ...shared, name, schema }),
    pattern: (pattern, schema) => new PatternChannel({ ...shared, pattern, schema }),
    stream: (name, schema) =>
      new Stream({
        backend: options.backend,
        name,
        schema,
        maxLen,
        onError: options.onError,
        onInvalid: options.onInvalid,
      }),
  };
}
