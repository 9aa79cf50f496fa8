/** A part of the demo whose package could not be loaded. */
export interface Unavailable {
  available: false;
  /** Shown on the dashboard panel, e.g. `queue: package not available yet`. */
  reason: string;
}
