import { key, tag } from '@redbrick/core';

/*
 * Every key of one stream carries the stream name as its hash tag, so the
 * stream, its dead letters and its failure counts share one Redis Cluster
 * slot. Channels use the channel name as it is (no prefix), so other tools
 * can publish and subscribe with plain PUBLISH / SUBSCRIBE.
 */

/** Keys of a stream named `name`. */
export interface StreamKeys {
  /** Stream: the entries (`m` field = the message, core json codec). */
  readonly stream: string;
  /** Stream: dead letters (`id`, `m`, `error`, `attempts`, `group`, `consumer`). */
  readonly dead: string;
  /** Hash: `<group>:<entry id>` → failed handler attempts so far (deleted on ack or dead-letter). */
  readonly failures: string;
}

export function streamKeys(name: string): StreamKeys {
  const stream = key('stream', tag(name));
  return { stream, dead: `${stream}:dead`, failures: `${stream}:failures` };
}
