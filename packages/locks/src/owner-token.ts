import { randomBytes } from 'node:crypto';

/**
 * A fresh owner token: `<owner>#<random>`. The owner part tells a cleanup
 * service who holds a lock; the 96 random bits make every acquisition's
 * token unique, so a release can never match someone else's.
 */
export function newToken(owner: string): string {
  return `${owner}#${randomBytes(12).toString('base64url')}`;
}

/** The owner part of a token (everything before the last `#`). */
export function ownerOf(token: string): string {
  const hash = token.lastIndexOf('#');
  return hash === -1 ? token : token.slice(0, hash);
}
