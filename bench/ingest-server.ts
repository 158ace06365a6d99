// A server for bench/ingest.ts: `antaeus` (the real API) or `bare` (express 5 + queue.add), on PORT.
import { Queue } from 'bullmq';
import express from 'express';
import { createApp } from '../api/app.js';
import { wireProcess } from '../queues/wiring.js';
import { loadConfig } from '../shared/platform/config.js';

const mode = process.argv[2];
const config = loadConfig(process.env);

if (mode === 'antaeus') {
  const wiring = wireProcess(config, 'bench');
  createApp(wiring.ctx).listen(config.port, () => console.log('ready'));
} else if (mode === 'bare') {
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
  app.listen(config.port, () => console.log('ready'));
} else {
  console.error('usage: ingest-server.ts antaeus|bare');
  process.exit(2);
}

// Exit cleanly on SIGTERM so `--cpu-prof` can write its profile.
process.once('SIGTERM', () => process.exit(0));
