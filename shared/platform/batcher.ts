// Runs calls made at about the same time as one batch: a statement per batch rather than per call, each call still answered alone.

/** Calls of one kind per batch at most; well inside every database's limit on bound parameters. */
const MAX_BATCH = 200;

/**
 * Runs the calls made while its previous batch ran (or in the same turn of the event loop) as one batch: with many
 * jobs in flight in one process, the database sees a statement per batch rather than per job. One batch runs at a
 * time. A batch that fails is run again call by call, so one bad call fails alone, as it would have without batching.
 */
export class Batcher<I, O> {
  private waiting: { item: I; resolve: (value: O) => void; reject: (err: unknown) => void }[] = [];
  private draining = false;

  constructor(
    /** Answers many calls at once, in their order. */
    private readonly many: (items: I[]) => Promise<O[]>,
    /** Answers one call: a batch of one, and the fallback when a batch fails. */
    private readonly one: (item: I) => Promise<O>,
  ) {}

  run(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.draining) return;
      this.draining = true;
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      if (batch.length > 1) {
        const results = await this.many(batch.map((c) => c.item)).catch(() => undefined);
        if (results) {
          batch.forEach((c, i) => c.resolve(results[i]!));
          continue;
        }
      }
      await Promise.all(batch.map((c) => this.one(c.item).then(c.resolve, c.reject)));
    }
    this.draining = false;
  }
}
