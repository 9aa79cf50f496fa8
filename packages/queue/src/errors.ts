/** Prefix of every message this package writes. */
export const PKG = '[redbrick/queue]';
