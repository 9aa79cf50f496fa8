import { RedbrickError } from '@redbrick/core';

/** Prefix of every message this package writes. */
export const PKG = '[redbrick/pubsub]';

/**
 * An async iterator's buffer was full with `overflow: 'error'`: the reader
 * fell behind the publishers. Code `BUFFER_OVERFLOW`. The subscription is
 * closed; subscribe again (and read faster, or raise `bufferSize`).
 */
export class BufferOverflowError extends RedbrickError {
  /** The channel (or pattern) whose buffer overflowed. */
  readonly channel: string;
  /** The buffer size that was exceeded. */
  readonly bufferSize: number;

  constructor(channel: string, bufferSize: number) {
    super(
      'BUFFER_OVERFLOW',
      `${PKG} the subscription to "${channel}" buffered ${bufferSize} unread messages (bufferSize) and overflow is 'error': read faster, raise bufferSize, or use overflow: 'drop-oldest'`,
    );
    this.name = 'BufferOverflowError';
    this.channel = channel;
    this.bufferSize = bufferSize;
  }
}
