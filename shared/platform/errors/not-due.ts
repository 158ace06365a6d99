// The work a job carries is not due yet (the database says when): the worker delays the job until then, spending no attempt.
import { RetryableError } from './retryable.js';

export class NotDueError extends RetryableError {
  override name = 'NotDueError';
  constructor(
    message: string,
    /** Until the work is due. */
    readonly dueInMs: number,
  ) {
    super(message, dueInMs);
  }
}
