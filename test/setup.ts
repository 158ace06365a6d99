// Root hooks: one private redis-server for the whole run; each test isolates itself with its own queue prefix.
import { startSharedRedis, stopSharedRedis } from './helpers/redis.js';

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(30_000);
    await startSharedRedis();
  },
  async afterAll() {
    await stopSharedRedis();
  },
};
