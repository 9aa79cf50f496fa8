import { randomBytes } from 'node:crypto';

const TOKEN_BYTES = 12;
const POOL_TOKENS = 256;
let pool = randomBytes(0);
let offset = 0;

/**
 * A fresh owner token: `<owner>#<random>`. The owner part tells a cleanup
 * service who holds a lock; the 96 random bits make every acquisition's
 * token unique, so a release can never match someone else's. Random bytes
 * are drawn 256 tokens at a time: one `randomBytes` call per acquisition
 * cost more than the rest of building the token.
 */
export function newToken(owner: string): string {
  if (offset + TOKEN_BYTES > pool.length) {
    pool = randomBytes(TOKEN_BYTES * POOL_TOKENS);
    offset = 0;
  }
  const random = pool.toString('base64url', offset, offset + TOKEN_BYTES);
  offset += TOKEN_BYTES;
  return `${owner}#${random}`;
}

/** The owner part of a token (everything before the last `#`). */
export function ownerOf(token: string): string {
  const hash = token.lastIndexOf('#');
  return hash === -1 ? token : token.slice(0, hash);
}
