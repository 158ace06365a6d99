// The `release` step: apply pending database migrations, then exit.
import { createDb, migrateLatest } from '../shared/platform/db.js';
import { configOrExit } from '../shared/platform/process.js';

const config = configOrExit();
const db = createDb({ url: config.databaseUrl });
try {
  const applied = await migrateLatest(db);
  console.log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await db.destroy();
}
