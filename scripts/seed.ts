// `npm run seed`: the development seed; prints the demo operator's API key.
import { createDb, migrateLatest } from '../shared/platform/db.js';
import { configOrExit } from '../shared/platform/process.js';
import { seedDevelopment } from './demo-data.js';

const config = configOrExit();
const db = createDb({ url: config.databaseUrl });
try {
  await migrateLatest(db);
  const { apiKey } = await seedDevelopment(db, config.demoApiKey);
  console.log(`demo operator API key: ${apiKey}${config.demoApiKey ? '' : ' (generated: set DEMO_API_KEY to choose it)'}`);
} finally {
  await db.destroy();
}
