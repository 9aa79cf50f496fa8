import { connect } from 'node:net';

/** A decoded RESP2 reply. Errors come back as {@link RespError} values, not exceptions. */
export type RespReply = string | number | null | RespError | RespReply[];

/** An error reply (`-ERR …`) from the server. */
export class RespError {
  constructor(readonly message: string) {}
}

function encode(args: ReadonlyArray<string | number>): string {
  let out = `*${args.length}\r\n`;
  for (const arg of args) {
    const s = String(arg);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

/** Parses one reply from `buf` at `pos`; returns undefined when more bytes are needed. */
function parse(buf: Buffer, pos: number): { value: RespReply; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buf[pos] ?? 0);
  const line = buf.toString('utf8', pos + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return undefined;
      return { value: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespReply[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

export interface RespCallOptions {
  /** Sent with AUTH before the commands. */
  password?: string | undefined;
  /** Give up after this many ms. @default 2000 */
  timeoutMs?: number;
}

/**
 * Sends commands to a server over a fresh connection and returns their
 * replies. A tiny RESP2 client, so the testkit needs no Redis library to
 * manage its throwaway servers.
 */
export function respCall(
  host: string,
  port: number,
  commands: ReadonlyArray<ReadonlyArray<string | number>>,
  options: RespCallOptions = {},
): Promise<RespReply[]> {
  const all = options.password === undefined ? commands : [['AUTH', options.password], ...commands];
  const skip = all.length - commands.length;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let buf = Buffer.alloc(0);
    const replies: RespReply[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from ${host}:${port} within ${options.timeoutMs ?? 2000} ms`));
    }, options.timeoutMs ?? 2000);
    socket.on('connect', () => socket.write(all.map(encode).join('')));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      let pos = 0;
      for (;;) {
        let parsed: ReturnType<typeof parse>;
        try {
          parsed = parse(buf, pos);
        } catch (error) {
          clearTimeout(timer);
          socket.destroy();
          reject(error);
          return;
        }
        if (!parsed) break;
        replies.push(parsed.value);
        pos = parsed.next;
      }
      buf = buf.subarray(pos);
      if (replies.length >= all.length) {
        clearTimeout(timer);
        socket.end();
        resolve(replies.slice(skip));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (replies.length < all.length)
        reject(new Error(`connection to ${host}:${port} closed early`));
    });
  });
}

/** Sends one command; rejects on an error reply. */
export async function respCommand(
  host: string,
  port: number,
  args: ReadonlyArray<string | number>,
  options: RespCallOptions = {},
): Promise<RespReply> {
  const [reply] = await respCall(host, port, [args], options);
  if (reply instanceof RespError) throw new Error(`${String(args[0])}: ${reply.message}`);
  return reply ?? null;
}
