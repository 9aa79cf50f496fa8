import { CommandError, WrongTypeError } from '@redbrick/core';

/** Every message of this package starts with this. */
export const PKG = '[redbrick/memory-backend]';

/*
 * Command errors carry Redis' own reply text after the command name, so a
 * message reads the same on the memory backend and on Redis.
 */

export function wrongType(command: string): WrongTypeError {
  return new WrongTypeError(
    `${PKG} ${command}: WRONGTYPE Operation against a key holding the wrong kind of value`,
  );
}

export function commandError(command: string, redisMessage: string): CommandError {
  return new CommandError(`${PKG} ${command}: ${redisMessage}`);
}

export const NOT_INTEGER = 'ERR value is not an integer or out of range';
export const NOT_FLOAT = 'ERR value is not a valid float';
export const HASH_NOT_INTEGER = 'ERR hash value is not an integer';
export const HASH_NOT_FLOAT = 'ERR hash value is not a float';
export const OVERFLOW = 'ERR increment or decrement would overflow';
export const NAN_OR_INFINITY = 'ERR increment would produce NaN or Infinity';
export const INVALID_STREAM_ID = 'ERR Invalid stream ID specified as stream command argument';
export const XADD_ID_TOO_SMALL =
  'ERR The ID specified in XADD is equal or smaller than the target stream top item';
export const XADD_ID_ZERO = 'ERR The ID specified in XADD must be greater than 0-0';
export const XGROUP_NO_KEY =
  'ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.';
export const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

export function noGroup(
  command: string,
  key: string,
  group: string,
  readGroup = false,
): CommandError {
  return commandError(
    command,
    `NOGROUP No such key '${key}' or consumer group '${group}'${readGroup ? ' in XREADGROUP with GROUP option' : ''}`,
  );
}
