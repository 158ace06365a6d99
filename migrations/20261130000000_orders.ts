// The order saga and customer mail: orders with their status history, and one row per email owed to a customer.
import type { Knex } from 'knex';

const timestamp = (t: Knex.CreateTableBuilder, name: string) => t.timestamp(name, { useTz: true });

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('orders', (t) => {
    t.string('id', 36).primary();
    t.string('customer_id', 64).notNullable();
    t.string('user_id', 36).notNullable(); // who placed it: their secret signs its callbacks
    t.bigInteger('amount_cents').notNullable();
    t.string('currency', 3).notNullable();
    t.string('status', 24).notNullable(); // see shared/orders/status.ts
    t.text('reason').nullable(); // why it failed
    t.text('callback_url').nullable();
    t.string('payment_id', 36).nullable(); // the payments row of its charge, made when checkout reaches awaitingPayment
    t.integer('fulfil_calls').notNullable().defaultTo(0);
    t.string('fulfilment_id', 100).nullable();
    t.text('refund_reason').nullable(); // set when fulfilment failed for good: a refund is owed
    timestamp(t, 'refund_requested_at').nullable();
    t.integer('refund_calls').notNullable().defaultTo(0);
    t.string('refund_id', 100).nullable();
    timestamp(t, 'created_at').notNullable();
    t.string('created_by', 80).notNullable();
    timestamp(t, 'updated_at').notNullable();
    t.string('updated_by', 80).notNullable();
    t.index(['created_at', 'id']);
    t.index(['status', 'id']);
    t.index(['customer_id', 'created_at']);
  });

  await knex.schema.createTable('order_events', (t) => {
    t.increments('id');
    t.string('order_id', 36).notNullable().references('orders.id').onDelete('CASCADE');
    t.string('from_status', 24).nullable();
    t.string('to_status', 24).notNullable();
    timestamp(t, 'at').notNullable();
    t.string('actor', 80).notNullable();
    t.text('details').nullable(); // JSON
    t.index(['order_id', 'id']);
  });

  await knex.schema.createTable('mails', (t) => {
    t.string('id', 36).primary(); // stable per notice: the same notice is never recorded twice
    t.string('kind', 32).notNullable(); // e.g. order-failed
    t.string('to_address', 256).notNullable();
    t.string('subject_type', 16).notNullable();
    t.string('subject_id', 64).notNullable();
    t.text('data').notNullable(); // JSON the notice is rendered from
    t.string('status', 12).notNullable(); // pending | sent | failed
    t.integer('attempts').notNullable().defaultTo(0);
    t.text('last_error').nullable();
    t.string('smtp_message_id', 255).nullable();
    t.text('smtp_response').nullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'updated_at').notNullable();
    timestamp(t, 'sent_at').nullable();
    t.index(['status', 'id']);
    t.index(['subject_type', 'subject_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['mails', 'order_events', 'orders']) await knex.schema.dropTableIfExists(table);
}
