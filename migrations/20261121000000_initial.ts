// The foundation schema: customers, users and their keys, invoices with lines and events, SdI notifications, callbacks.
import type { Knex } from 'knex';

const timestamp = (t: Knex.CreateTableBuilder, name: string) => t.timestamp(name, { useTz: true });

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('customers', (t) => {
    t.string('id', 64).primary();
    t.string('name', 80).notNullable();
    t.string('vat_number', 30).nullable(); // country prefix + code, e.g. IT01234567890
    t.string('fiscal_code', 16).nullable();
    t.string('address_street', 60).notNullable();
    t.string('address_postal_code', 5).notNullable();
    t.string('address_city', 60).notNullable();
    t.string('address_province', 2).nullable();
    t.string('address_country', 2).notNullable();
    t.string('sdi_code', 7).notNullable(); // 7 characters, 6 for a public administration office, 0000000 with a PEC
    t.string('pec', 256).nullable();
    t.string('currency', 3).notNullable();
    t.string('email', 256).notNullable();
    t.string('username', 64).notNullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'updated_at').notNullable();
  });

  await knex.schema.createTable('users', (t) => {
    t.string('id', 36).primary();
    t.string('username', 64).notNullable().unique();
    t.string('email', 256).notNullable();
    t.string('role', 16).notNullable(); // operator | client
    timestamp(t, 'created_at').notNullable();
  });

  await knex.schema.createTable('user_customers', (t) => {
    t.string('user_id', 36).notNullable().references('users.id').onDelete('CASCADE');
    t.string('customer_id', 64).notNullable().references('customers.id').onDelete('CASCADE');
    timestamp(t, 'created_at').notNullable();
    t.primary(['user_id', 'customer_id']);
    t.index(['customer_id']);
  });

  await knex.schema.createTable('api_keys', (t) => {
    t.string('id', 36).primary();
    t.string('user_id', 36).notNullable().references('users.id').onDelete('CASCADE');
    t.string('key_hash', 64).notNullable().unique(); // sha256 of the key; the key itself is shown once
    t.string('key_prefix', 12).notNullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'revoked_at').nullable();
    t.index(['user_id']);
  });

  await knex.schema.createTable('webhook_secrets', (t) => {
    t.string('user_id', 36).notNullable().references('users.id').onDelete('CASCADE');
    t.integer('version').notNullable();
    t.string('secret', 64).notNullable();
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'expires_at').nullable(); // set on rotation: the old secret keeps signing until then
    t.primary(['user_id', 'version']);
  });

  await knex.schema.createTable('invoices', (t) => {
    t.string('id', 36).primary(); // UUIDv5 of kind, customer and number: resubmissions map to the same row
    t.string('kind', 8).notNullable(); // internal | external
    t.string('customer_id', 64).notNullable(); // no foreign key: an unknown customer is recorded as INVALID
    t.string('number', 20).notNullable();
    t.string('issue_date', 10).notNullable();
    t.string('due_date', 10).nullable();
    t.string('currency', 3).notNullable();
    t.bigInteger('taxable_cents').notNullable();
    t.bigInteger('vat_cents').notNullable();
    t.bigInteger('total_cents').notNullable();
    t.string('status', 40).notNullable();
    t.string('payment_status', 8).nullable(); // PENDING | PAID | FAILED; null for external invoices
    t.text('payment_failure_reason').nullable();
    t.text('callback_url').nullable();
    t.text('supplier').nullable(); // JSON, external invoices only
    timestamp(t, 'created_at').notNullable();
    t.string('created_by', 64).notNullable();
    timestamp(t, 'updated_at').notNullable();
    t.string('updated_by', 64).notNullable();
    t.unique(['customer_id', 'kind', 'number']);
    t.index(['created_at', 'id']);
    t.index(['status']);
    t.index(['payment_status', 'due_date']);
  });

  await knex.schema.createTable('invoice_lines', (t) => {
    t.string('invoice_id', 36).notNullable().references('invoices.id').onDelete('CASCADE');
    t.integer('line_number').notNullable();
    t.string('description', 1000).notNullable();
    t.string('quantity', 24).notNullable(); // decimals kept as text: exact, never floating point
    t.string('unit_price', 24).notNullable();
    t.string('vat_rate', 6).notNullable();
    t.string('natura', 4).nullable();
    t.bigInteger('total_cents').notNullable();
    t.primary(['invoice_id', 'line_number']);
  });

  await knex.schema.createTable('invoice_events', (t) => {
    t.increments('id');
    t.string('invoice_id', 36).notNullable().references('invoices.id').onDelete('CASCADE');
    t.string('from_status', 40).nullable();
    t.string('to_status', 40).notNullable();
    timestamp(t, 'at').notNullable();
    t.string('actor', 80).notNullable();
    t.text('details').nullable(); // JSON
    t.index(['invoice_id', 'id']);
  });

  await knex.schema.createTable('sdi_notifications', (t) => {
    t.string('id', 36).primary();
    t.string('customer_id', 64).notNullable();
    t.string('invoice_number', 20).notNullable();
    t.string('status', 16).notNullable(); // DELIVERED | DISCARDED | NOT_DELIVERED
    t.text('errors').nullable(); // JSON list from the SdI
    t.string('invoice_id', 36).nullable();
    t.string('outcome', 16).notNullable(); // pending | applied | invalid
    t.text('reason').nullable();
    timestamp(t, 'received_at').notNullable();
    t.string('received_by', 64).notNullable();
    timestamp(t, 'processed_at').nullable();
    t.index(['invoice_id']);
  });

  await knex.schema.createTable('callback_messages', (t) => {
    t.string('id', 40).primary(); // the webhook-id, the same on every attempt
    t.string('user_id', 36).notNullable(); // whose secret signs it
    t.text('url').notNullable();
    t.string('event_type', 64).notNullable();
    t.text('payload').notNullable(); // the exact JSON body sent
    t.string('subject_type', 16).notNullable();
    t.string('subject_id', 64).notNullable();
    t.string('status', 16).notNullable(); // pending | delivered | failed | gone
    t.integer('attempts').notNullable().defaultTo(0);
    timestamp(t, 'created_at').notNullable();
    timestamp(t, 'updated_at').notNullable();
    t.index(['subject_type', 'subject_id']);
  });

  await knex.schema.createTable('callback_deliveries', (t) => {
    t.increments('id');
    t.string('message_id', 40).notNullable().references('callback_messages.id').onDelete('CASCADE');
    t.integer('attempt').notNullable();
    timestamp(t, 'started_at').notNullable();
    t.integer('duration_ms').notNullable();
    t.integer('status_code').nullable();
    t.text('error').nullable();
    t.string('outcome', 16).notNullable(); // delivered | retry | failed | gone
    t.index(['message_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'callback_deliveries',
    'callback_messages',
    'sdi_notifications',
    'invoice_events',
    'invoice_lines',
    'invoices',
    'webhook_secrets',
    'api_keys',
    'user_customers',
    'users',
    'customers',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
