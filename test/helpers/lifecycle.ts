// Closes what each test opened, after it, newest first, whatever happened: a setup that failed leaves no TypeError to hide its error.

export interface Closable {
  close(): unknown;
}

export type Opened = <T extends Closable>(resource: T) => T;

/**
 * Call once in a describe. It registers an afterEach there and returns `opened`, which marks a resource to be closed
 * after the current test and hands it back: `system = opened(await createTestSystem())`. Only what was really opened is
 * closed, and once, so a failed setup reports its own error, and a test never closes the last test's leftovers. If one
 * close fails, the rest are still closed, and the first failure is reported.
 */
export function closedAfterEach(): Opened {
  const open: Closable[] = [];
  afterEach(async () => {
    let failure: unknown;
    for (const resource of open.splice(0).reverse()) {
      try {
        await resource.close();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure) throw failure;
  });
  return (resource) => {
    open.push(resource);
    return resource;
  };
}
