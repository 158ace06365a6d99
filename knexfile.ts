// knex CLI configuration: the same database settings the processes use, read from the environment.
import { loadConfig, loadDotEnv } from './shared/config.js';
import { knexConfig } from './shared/db.js';

loadDotEnv();
export default knexConfig({ url: loadConfig().databaseUrl });
