// SdI transmission: file progressives per transmitter, the rendered file of each invoice, and receipts as received.
import type { Knex } from 'knex';

const timestamp = (t: Knex.CreateTableBuilder, name: string) => t.timestamp(name, { useTz: true });

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sdi_progressives', (t) => {
    t.string('transmitter', 30).primary(); // IdPaese + IdCodice
    t.bigInteger('last_value').notNullable(); // only ever incremented: a file name is never reused
  });

  await knex.schema.createTable('sdi_files', (t) => {
    t.string('file_name', 50).primary(); // IT<IdCodice>_<progressive>.xml, how the SdI's receipts name it
    t.string('invoice_id', 36).notNullable().unique().references('invoices.id').onDelete('CASCADE');
    t.string('transmitter', 30).notNullable();
    t.string('progressive', 5).notNullable();
    t.string('format', 5).notNullable(); // FPR12 | FPA12
    t.text('xml').notNullable(); // exactly what was (or will be) sent
    timestamp(t, 'rendered_at').notNullable();
    timestamp(t, 'validated_at').nullable(); // the XML passed the schema: not checked again on retries
    t.string('smtp_message_id', 255).nullable();
    t.text('smtp_response').nullable();
    timestamp(t, 'sent_at').nullable(); // set once the SMTP server accepted the message: never sent again
    t.unique(['transmitter', 'progressive']);
  });

  await knex.schema.createTable('sdi_receipts', (t) => {
    t.string('id', 36).primary();
    t.string('message_type', 40).nullable(); // RicevutaConsegna | NotificaScarto | NotificaMancataConsegna | …
    t.string('file_name', 50).nullable();
    t.string('sdi_identifier', 20).nullable();
    t.string('sdi_message_id', 20).nullable();
    t.string('invoice_id', 36).nullable();
    t.string('notification_id', 36).nullable();
    t.string('outcome', 16).notNullable(); // accepted | invalid | unmatched
    t.text('reason').nullable();
    t.text('body').notNullable();
    timestamp(t, 'received_at').notNullable();
    t.string('received_by', 64).notNullable();
    t.index(['file_name']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['sdi_receipts', 'sdi_files', 'sdi_progressives']) await knex.schema.dropTableIfExists(table);
}
