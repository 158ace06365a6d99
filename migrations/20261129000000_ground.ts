// The ground holds: discarded invoices are VOID, charges count their provider calls, runs count what waits for the SdI, the sweep has its indexes.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices', (t) => {
    // Provider calls made at the current dunning step with no outcome recorded: above 0, the next attempt asks the
    // provider's ledger first, since a lost answer may have been a charge.
    t.integer('charge_calls').notNullable().defaultTo(0);
    t.index(['charge_calls']);
  });
  await knex.schema.alterTable('payments', (t) => {
    t.integer('charge_calls').notNullable().defaultTo(0);
  });
  await knex.schema.alterTable('billing_runs', (t) => {
    // Due invoices the run left because the SdI had not accepted them yet; a later run takes them.
    t.integer('awaiting_sdi').notNullable().defaultTo(0);
    // The job that drives the run: the sweep queues the run again when Redis no longer has it.
    t.string('job_id', 200).nullable();
    t.index(['status']);
  });
  await knex.schema.alterTable('callback_messages', (t) => {
    t.index(['status']);
  });
  await knex.schema.alterTable('sdi_files', (t) => {
    // A send in flight: no other attempt mails the file meanwhile (a stalled job's twin, a job the sweep queued again).
    t.string('send_lease_token', 64).nullable();
    t.timestamp('send_lease_until', { useTz: true }).nullable();
  });
  // A discarded invoice was never issued: whatever it was waiting for, it is not owed.
  await knex('invoices').where({ status: 'INTERNAL_INVOICE_DISCARDED', payment_status: 'PENDING' }).update({ payment_status: 'VOID', next_charge_at: null });
}

export async function down(knex: Knex): Promise<void> {
  await knex('invoices').where({ status: 'INTERNAL_INVOICE_DISCARDED', payment_status: 'VOID' }).update({ payment_status: 'PENDING' });
  await knex.schema.alterTable('sdi_files', (t) => {
    t.dropColumn('send_lease_until');
    t.dropColumn('send_lease_token');
  });
  await knex.schema.alterTable('callback_messages', (t) => {
    t.dropIndex(['status']);
  });
  await knex.schema.alterTable('billing_runs', (t) => {
    t.dropIndex(['status']);
    t.dropColumn('job_id');
    t.dropColumn('awaiting_sdi');
  });
  await knex.schema.alterTable('payments', (t) => {
    t.dropColumn('charge_calls');
  });
  await knex.schema.alterTable('invoices', (t) => {
    t.dropIndex(['charge_calls']);
    t.dropColumn('charge_calls');
  });
}
