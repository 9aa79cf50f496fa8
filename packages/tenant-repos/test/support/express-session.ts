import { randomBytes } from 'node:crypto';

/*
 * Stand-ins for express-session 1.18's `Cookie` and `Session` classes and for what its
 * middleware does around a store (the package does not depend on express-session). They keep
 * the parts a store meets: `Cookie#maxAge` computed from `expires`, `toJSON` dropping
 * `maxAge`, and `Session` hiding `req` and `id` from JSON.
 */

type Fields = Record<string, unknown>;

export class Cookie {
  path = '/';
  httpOnly = true;
  originalMaxAge: number | null | undefined;
  _expires: Date | null = null;

  constructor(options?: Fields) {
    this.maxAge = null;
    if (options) {
      for (const key of Object.keys(options)) {
        if (key !== 'data') (this as unknown as Fields)[key] = options[key];
      }
    }
    if (this.originalMaxAge === undefined || this.originalMaxAge === null) {
      this.originalMaxAge = this.maxAge;
    }
  }

  set expires(date: Date | null) {
    this._expires = date;
    this.originalMaxAge = this.maxAge;
  }

  get expires(): Date | null {
    return this._expires;
  }

  set maxAge(ms: number | null) {
    this.expires = typeof ms === 'number' ? new Date(Date.now() + ms) : null;
  }

  get maxAge(): number | null {
    return this._expires instanceof Date ? this._expires.valueOf() - Date.now() : null;
  }

  toJSON(): Fields {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this._expires,
      httpOnly: this.httpOnly,
      path: this.path,
    };
  }
}

export interface Request {
  sessionID?: string;
  session?: Session;
  sessionStore?: unknown;
}

export class Session {
  declare readonly req: Request;
  declare readonly id: string;
  cookie: Cookie = new Cookie();
  [field: string]: unknown;

  constructor(req: Request, data?: Fields) {
    Object.defineProperty(this, 'req', { value: req });
    Object.defineProperty(this, 'id', { value: req.sessionID });
    if (typeof data === 'object' && data !== null) {
      for (const prop of Object.keys(data)) {
        (this as Fields)[prop] = data[prop];
      }
    }
  }
}

/** What `session({ store, cookie })` assigns to the store it is given. */
export function installGenerate(
  store: { generate?: (req: Request) => void },
  cookie: Fields,
): void {
  store.generate = (req) => {
    req.sessionID = randomBytes(18).toString('base64url');
    req.session = new Session(req);
    req.session.cookie = new Cookie(cookie);
  };
}
