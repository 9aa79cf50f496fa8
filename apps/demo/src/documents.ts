import type { Backend } from '@redbrick/core';
import { createQueue, type JobCounts, type Queue, type QueueWorker } from '@redbrick/queue';
import { z } from 'zod';
import type { EventBus } from './events.js';
import type { Profiles } from './profiles.js';
import { estimateTokens, type UsageBoard } from './usage.js';

const documentJob = z.object({
  tenant: z.string(),
  user: z.string(),
  workspace: z.string(),
  title: z.string(),
  text: z.string(),
});

/** A document to summarize, as queued. */
export type DocumentJob = z.infer<typeof documentJob>;

/** What a finished job returns. */
export interface DocumentResult {
  tokens: number;
  cost: number;
}

/** Queue counts, as `@redbrick/queue` reports them. */
export type QueueCounts = JobCounts;

/** Settings of the document pipeline. */
export interface DocumentSettings {
  /** Progress steps of one job. @default 5 */
  steps: number;
  /** Simulated work per step, in ms. @default 250 */
  stepMs: number;
  /** Jobs this process works on at once. @default 2 */
  concurrency: number;
}

/** The defaults of {@link DocumentSettings}. */
export const DEFAULT_DOCUMENTS: DocumentSettings = { steps: 5, stepMs: 250, concurrency: 2 };

/**
 * Submitting a document enqueues a job; this process's worker summarizes it
 * step by step, publishing progress and completion on the event bus (which
 * the dashboard streams over SSE) and recording the tokens and cost with the
 * usage meter.
 */
export class Documents {
  readonly #queue: Queue<DocumentJob>;
  readonly #worker: QueueWorker;

  constructor(
    backend: Backend,
    settings: DocumentSettings,
    deps: { events: EventBus; usage: UsageBoard; profiles: Profiles },
  ) {
    const queue = createQueue<DocumentJob>({
      backend,
      name: 'demo-documents',
      schema: documentJob,
    });
    this.#queue = queue;
    this.#worker = queue.process(
      async (job) => {
        const { tenant, user, workspace, title, text } = job.data;
        try {
          for (let step = 1; step <= settings.steps; step++) {
            await new Promise((resolve) => setTimeout(resolve, settings.stepMs));
            const progress = Math.round((step / settings.steps) * 100);
            await job.updateProgress(progress);
            await deps.events.emit(tenant, 'job.progress', { jobId: job.id, title, progress });
          }
          const tokens = estimateTokens(text);
          const cost = await deps.usage.record(tenant, workspace, tokens);
          await deps.profiles.documentDone(tenant, user, title, tokens);
          await deps.events.emit(tenant, 'job.completed', {
            jobId: job.id,
            title,
            workspace,
            tokens,
            cost,
          });
          return { tokens, cost };
        } catch (error) {
          await deps.events
            .emit(tenant, 'job.failed', { jobId: job.id, title, message: String(error) })
            .catch(() => undefined);
          throw error;
        }
      },
      { concurrency: settings.concurrency },
    );
  }

  /** Enqueues a document; returns the job id. */
  async submit(job: DocumentJob): Promise<string> {
    const { id } = await this.#queue.enqueue(job);
    return id;
  }

  counts(): Promise<QueueCounts> {
    return this.#queue.counts();
  }

  /** Lets running jobs finish, then closes the worker and the queue. */
  async close(): Promise<void> {
    await this.#worker.close();
    await this.#queue.close();
  }
}
