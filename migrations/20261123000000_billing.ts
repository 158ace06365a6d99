// Billing and payments: the charge state of each invoice, billing runs, the payments ledger and API idempotency keys.
import type { Knex } from 'knex';

const timestamp = (t: Knex.CreateTableBuilder | Knex.AlterTableBuilder, name: string) => t.timestamp(name, { useTz: true });

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('invoices', (t) => {
    // Which dunning attempt comes next: it is part of the provider's idempotency key, so a key changes only between attempts.
    t.integer('dunning_step').notNullable().defaultTo(0);
    timestamp(t, 'next_charge_at').nullable(); // set while waiting for the next dunning attempt
    // A charge in flight: no other worker may call the provider for this invoice until the lease ends.
    t.string('charge_lease_token', 64).nullable();
    timestamp(t, 'charge_lease_until').nullable();
    t.string('billing_run_id', 64).nullable(); // the run that took the invoice
    t.index(['payment_status', 'id']); // the billing run's keyset scan
    t.index(['billing_run_id', 'payment_status']);
  });

  await knex.schema.createTable('billing_runs', (t) => {
    t.string('id', 64).primary();
    t.string('status', 16).notNullable(); // queued | running | enqueued | failed
    t.string('cutoff_date', 10).notNullable(); // invoices due by this date (in BILLING_TZ) are charged
    t.string('requested_by', 80).notNullable(); // user:<id> or scheduler
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'started_at').nullable();
    timestamp(t, 'finished_at').nullable();
    // Progress is saved per page, so a retried run resumes after the last page it finished.
    t.string('cursor', 36).nullable();
    t.integer('selected').notNullable().defaultTo(0);
    t.integer('enqueued').notNullable().defaultTo(0);
    t.text('error').nullable();
    t.index(['created_at', 'id']);
  });

  await knex.schema.createTable('payments', (t) => {
    t.string('id', 36).primary();
    t.string('payment_ref_id', 36).notNullable().unique(); // the business reference, independent of the key
    t.string('kind', 8).notNullable(); // invoice | one-off
    t.string('invoice_id', 36).nullable();
    t.string('order_id', 36).nullable();
    t.string('customer_id', 64).notNullable();
    t.string('user_id', 36).nullable();
    t.bigInteger('amount_cents').notNullable();
    t.string('currency', 3).notNullable();
    t.string('status', 10).notNullable(); // PENDING | PAID | DECLINED | FAILED
    t.text('reason').nullable();
    t.text('description').nullable();
    // One payment per provider idempotency key: a charge attempt is recorded once whoever records it.
    t.string('idempotency_key', 100).notNullable().unique();
    t.string('provider_charge_id', 100).nullable();
    t.integer('dunning_step').nullable();
    t.string('charge_lease_token', 64).nullable();
    timestamp(t, 'charge_lease_until').nullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'updated_at').notNullable();
    t.index(['created_at', 'id']);
    t.index(['customer_id', 'created_at']);
    t.index(['invoice_id']);
  });

  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('user_id', 36).notNullable();
    t.string('key', 255).notNullable();
    t.string('request_hash', 64).notNullable(); // sha256 of method, path and body: another body with the key is refused
    t.string('status', 12).notNullable(); // in_progress | done
    t.integer('response_status').nullable();
    t.text('response_body').nullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'locked_at').notNullable();
    t.primary(['user_id', 'key']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('idempotency_keys');
  await knex.schema.dropTableIfExists('payments');
  await knex.schema.dropTableIfExists('billing_runs');
  await knex.schema.alterTable('invoices', (t) => {
    t.dropIndex(['billing_run_id', 'payment_status']);
    t.dropIndex(['payment_status', 'id']);
    for (const column of ['billing_run_id', 'charge_lease_until', 'charge_lease_token', 'next_charge_at', 'dunning_step']) t.dropColumn(column);
  });
}
