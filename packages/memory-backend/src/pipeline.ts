import {
  type DataCommands,
  describe,
  KEY_POSITIONS,
  type Pipeline,
  type PipelineResult,
  ValidationError,
} from '@redbrick/core';
import { PKG } from './errors.js';

/**
 * A batch of commands run in order when `exec()` is called. Each command's
 * failure is its own result; the others still run. Not atomic (a Script is).
 */
export class MemoryPipeline implements Pipeline {
  #queue: Array<{ command: keyof DataCommands; args: unknown[] }> = [];
  readonly #run: (
    queue: ReadonlyArray<{ command: keyof DataCommands; args: unknown[] }>,
  ) => Promise<PipelineResult[]>;

  constructor(
    run: (
      queue: ReadonlyArray<{ command: keyof DataCommands; args: unknown[] }>,
    ) => Promise<PipelineResult[]>,
  ) {
    this.#run = run;
  }

  add<K extends keyof DataCommands>(command: K, ...args: Parameters<DataCommands[K]>): Pipeline {
    if (typeof command !== 'string' || !Object.hasOwn(KEY_POSITIONS, command)) {
      throw new ValidationError(`${PKG} pipeline: unknown command ${describe(command)}`, {
        field: 'command',
      });
    }
    this.#queue.push({ command, args });
    return this;
  }

  get length(): number {
    return this.#queue.length;
  }

  /** Runs the queued commands in order and empties the queue (the pipeline can be reused). */
  exec(): Promise<PipelineResult[]> {
    const queue = this.#queue;
    this.#queue = [];
    return this.#run(queue);
  }
}
