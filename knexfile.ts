// knex CLI configuration: the same database settings the processes use, read from the environment.
import { loadConfig, loadDotEnv } from './shared/platform/config.js';
import { knexConfig } from './shared/platform/db.js';

loadDotEnv();
export default knexConfig({ url: loadConfig().databaseUrl });
