// Who did something, as the created_by, updated_by, requested_by and event columns store it: built and read here only.

/** A user acting through the API, a worker of a queue, the SdI's verdict, or the billing scheduler. */
export type Actor = `user:${string}` | `worker:${string}` | 'sdi' | 'scheduler';

export const actors = {
  user: (userId: string): Actor => `user:${userId}`,
  worker: (queue: string): Actor => `worker:${queue}`,
  sdi: 'sdi' as Actor,
  scheduler: 'scheduler' as Actor,
};

/** The user an actor names, if it names one: what a client submitted is theirs, and their secret signs its callbacks. */
export function userIdOf(actor: string): string | undefined {
  return actor.startsWith('user:') ? actor.slice('user:'.length) : undefined;
}
