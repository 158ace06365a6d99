// Scheduled reports: the DLQ report lists every failed job of every queue, the invoice report every invoice, formula-safe.
import { mkdtempSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError } from 'bullmq';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import request from 'supertest';
import { actors } from '../../shared/access/actors.js';
import { invoiceDocumentSchema } from '../../shared/invoices/document.js';
import { invoiceId } from '../../shared/invoices/invoice.js';
import { insertNewInvoice, transitionInvoice } from '../../shared/invoices/store.js';
import { addCustomer, addUser, invoiceBody } from '../helpers/fixtures.js';
import { closedAfterEach } from '../helpers/lifecycle.js';
import { createTestSystem, type TestSystem } from '../helpers/system.js';
import { waitFor } from '../helpers/wait.js';

describe('CSV reports', () => {
  const opened = closedAfterEach();
  let system: TestSystem;
  beforeEach(async () => {
    const reportsDir = mkdtempSync(join(tmpdir(), 'antaeus-reports-'));
    opened({ close: () => rm(reportsDir, { recursive: true, force: true }) });
    system = opened(await createTestSystem({ REPORTS_DIR: reportsDir }));
  });

  async function runReport(type: 'dlq-report' | 'invoice-report', auth: string): Promise<Record<string, string>[]> {
    const queued = await request(system.app).post('/v1/reports').set('Authorization', auth).send({ type }).expect(202);
    const done = await waitFor(async () => {
      const res = await request(system.app).get(queued.body.links.self).set('Authorization', auth).expect(200);
      return res.body.status === 'completed' && res.body;
    });
    expect(done.file).to.match(new RegExp(`${type}-\\d{4}-\\d{2}-\\d{2}T[\\d-]+Z\\.csv$`));
    return parse(await readFile(done.file, 'utf8'), { columns: true }) as Record<string, string>[];
  }

  it('lists every failed job of every queue, with a formula in a failure reason neutralised', async () => {
    const operator = await addUser(system.ctx.db, 'operator');
    const fail = (message: string) => async () => {
      throw new UnrecoverableError(message);
    };
    system.startWorkers(['charge', 'callback'], { charge: { charge: { run: fail('=HYPERLINK("http://evil.example")') }, 'one-off': { run: fail('unused') } }, callback: { deliver: { run: fail('client said no') } } });
    const events = [await system.events('charge'), await system.events('callback')];
    const failed = Promise.all([
      new Promise((resolve) => events[0]!.on('failed', resolve)),
      new Promise((resolve) => events[1]!.on('failed', resolve)),
    ]);
    await system.ctx.queues.add('charge', 'charge', { invoiceId: 'inv-1' }, { jobId: 'charge-inv-1' });
    await system.ctx.queues.add('callback', 'deliver', { messageId: 'msg-1' }, { jobId: 'callback-msg-1' });
    await failed;

    system.startWorkers(['reports']);
    const rows = await runReport('dlq-report', operator.auth);
    expect(rows).to.have.length(2);
    const charge = rows.find((r) => r.queue === 'charge')!;
    expect(charge).to.include({ 'job id': 'charge-inv-1', name: 'charge', attempts: '1', 'failure reason': `'=HYPERLINK("http://evil.example")` });
    for (const column of ['created at', 'last attempt at', 'failed at']) expect(Date.parse(charge[column]!)).to.be.a('number').and.not.NaN;
    expect(rows.find((r) => r.queue === 'callback')).to.include({ 'job id': 'callback-msg-1', 'failure reason': 'client said no' });
  });

  it('lists every invoice with its customer’s username and email and who created and changed it', async () => {
    const operator = await addUser(system.ctx.db, 'operator');
    const customerId = await addCustomer(system.ctx.db, { username: '@rossi', email: 'billing@rossi.example' });
    const numbers = ['=1+2', 'FT-2', '-3'];
    for (const number of numbers) {
      const document = invoiceDocumentSchema.parse(invoiceBody(customerId, { number }));
      const id = invoiceId('internal', customerId, number);
      await insertNewInvoice(system.ctx.db, { id, kind: 'internal', document, acceptedAt: new Date().toISOString(), submittedBy: operator.userId });
      if (number === 'FT-2') await transitionInvoice(system.ctx.db, id, 'INTERNAL_INVOICE_TOBE_SENT', { actor: actors.worker('invoice-save') });
    }

    system.startWorkers(['reports']);
    const rows = await runReport('invoice-report', operator.auth);
    expect(rows.map((r) => r.number).sort()).to.deep.equal(["'-3", "'=1+2", 'FT-2']);
    const moved = rows.find((r) => r.number === 'FT-2')!;
    expect(moved).to.include({
      status: 'INTERNAL_INVOICE_TOBE_SENT',
      'customer id': customerId,
      'customer username': "'@rossi",
      'customer email': 'billing@rossi.example',
      'created by': `user:${operator.userId}`,
      'updated by': 'worker:invoice-save',
    });
    expect(Date.parse(moved['created at']!)).to.not.be.NaN;
    expect(Date.parse(moved['updated at']!)).to.be.at.least(Date.parse(moved['created at']!));
  });

  it('lets only operators ask for a report', async () => {
    const customerId = await addCustomer(system.ctx.db);
    const client = await addUser(system.ctx.db, 'client', [customerId]);
    await request(system.app).post('/v1/reports').set('Authorization', client.auth).send({ type: 'dlq-report' }).expect(403);
    const operator = await addUser(system.ctx.db, 'operator');
    await request(system.app).post('/v1/reports').set('Authorization', operator.auth).send({ type: 'payroll' }).expect(400);
    await request(system.app).get('/v1/reports/report-nope').set('Authorization', operator.auth).expect(404);
  });
});
