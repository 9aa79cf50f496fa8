import type { Op, RedisArg } from './commands.js';

/** Anything that can send a raw command: a connection, a cluster client, a node. */
export interface Caller {
  call(command: string, ...args: RedisArg[]): Promise<unknown>;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The same op sent as EVAL with the script body (which also caches it on that node). */
export function evalOp<T>(op: Op<T>): Op<T> {
  if (op.script === undefined) return op;
  return { ...op, name: 'eval', args: [op.script.lua, ...op.args.slice(1)], script: undefined };
}

/** True when an error reply says the node does not have the script cached. */
export function isNoScript(error: unknown): boolean {
  return messageOf(error).startsWith('NOSCRIPT');
}

/**
 * Sends one op and decodes its reply. Scripts go as EVALSHA (one round
 * trip once the node has the script); on NOSCRIPT — a node that never saw
 * it, a restarted node, a new cluster primary — the same call is repeated as
 * EVAL, which runs the script and caches it on exactly the node that owns
 * the keys' slot. Errors are returned raw; the caller maps them.
 */
export function sendOp<T>(client: Caller, op: Op<T>): Promise<T> {
  const sent = client.call(op.name, ...op.args);
  if (op.script === undefined && op.recover === undefined) return sent.then(op.decode);
  return sent.then(op.decode, (error: unknown) => {
    if (op.script !== undefined && isNoScript(error)) {
      const again = evalOp(op);
      return client.call(again.name, ...again.args).then(op.decode);
    }
    const recovered = op.recover?.(messageOf(error));
    if (recovered) return recovered.value;
    throw error;
  });
}
