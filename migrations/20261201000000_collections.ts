// Data collection: one row per request, written before the API answers 202, and one row per provider call.
import type { Knex } from 'knex';

const timestamp = (t: Knex.CreateTableBuilder, name: string) => t.timestamp(name, { useTz: true });

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('collections', (t) => {
    t.string('id', 36).primary(); // the requestId a client polls
    t.string('user_id', 36).notNullable(); // who asked: they see it, and their secret signs its callbacks
    t.string('provider', 16).notNullable(); // gas | internet
    t.text('callback_url').notNullable();
    t.string('status', 16).notNullable(); // see shared/collections/status.ts
    t.integer('attempts').notNullable().defaultTo(0); // provider calls answered or failed: what counts toward the maximum
    timestamp(t, 'next_attempt_at').nullable(); // while retrying (or waiting for the breaker): when it tries again
    t.text('reason').nullable(); // why it failed
    t.text('data').nullable(); // the provider's JSON document, as received, once succeeded
    timestamp(t, 'created_at').notNullable();
    t.string('created_by', 80).notNullable();
    timestamp(t, 'updated_at').notNullable();
    timestamp(t, 'completed_at').nullable();
    t.index(['created_at', 'id']);
    t.index(['status', 'id']);
    t.index(['user_id', 'created_at']);
  });

  await knex.schema.createTable('collection_attempts', (t) => {
    t.increments('id');
    t.string('collection_id', 36).notNullable().references('collections.id').onDelete('CASCADE');
    t.integer('attempt').notNullable(); // 1, 2, … per collection, interrupted calls included
    timestamp(t, 'started_at').notNullable();
    t.integer('duration_ms').nullable(); // null while the call is in flight
    t.string('outcome', 16).nullable(); // succeeded | retrying | failed | interrupted; null while in flight
    t.integer('status_code').nullable(); // the provider's HTTP status, when it answered
    t.text('error').nullable();
    t.integer('retry_after_ms').nullable(); // the provider's Retry-After
    t.integer('wait_ms').nullable(); // the wait chosen before the next try
    t.unique(['collection_id', 'attempt']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['collection_attempts', 'collections']) await knex.schema.dropTableIfExists(table);
}
