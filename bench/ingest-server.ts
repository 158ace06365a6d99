// A server for bench/ingest.ts: `antaeus` (the `web` process itself, api/main.ts) or `bare` (express 5 + queue.add), on PORT.
import { Queue } from 'bullmq';
import express from 'express';
import { configOrExit } from '../shared/platform/process.js';

const mode = process.argv[2];

if (mode === 'antaeus') {
  // Exactly what `npm run web` runs, start-up checks (configuration, Redis durability) and SIGTERM handling included,
  // so the bench measures the production process and stops, as it would, when that process refuses to start.
  await import('../api/main.js');
} else if (mode === 'bare') {
  const config = configOrExit();
  const queue = new Queue('bare-ingest', { connection: { url: config.redisUrl }, prefix: `${config.queuePrefix}-bare` });
  const app = express();
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use(express.json({ limit: '1mb' }));
  app.post('/v1/invoices', async (req, res) => {
    const job = await queue.add('internal', req.body);
    res.status(202).json({ id: job.id });
  });
  app.listen(config.port, (err?: Error) => {
    if (err) {
      console.error(`bare server: cannot listen on port ${config.port}: ${err.message}`);
      process.exit(1);
    }
  });
  // Exit at once on SIGTERM, so `--cpu-prof` writes its profile.
  process.once('SIGTERM', () => process.exit(0));
} else {
  console.error('usage: ingest-server.ts antaeus|bare');
  process.exit(2);
}
