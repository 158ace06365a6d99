// The ordered list of migrations, imported statically so knex finds them the same way under tsx and from dist/.
import type { Knex } from 'knex';
import * as initial from './20261121000000_initial.js';
import * as sdiTransmission from './20261122000000_sdi_transmission.js';
import * as billing from './20261123000000_billing.js';
import * as ground from './20261129000000_ground.js';
import * as orders from './20261130000000_orders.js';
import * as collections from './20261201000000_collections.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

const migrations: [string, Migration][] = [
  ['20261121000000_initial', initial],
  ['20261122000000_sdi_transmission', sdiTransmission],
  ['20261123000000_billing', billing],
  ['20261129000000_ground', ground],
  ['20261130000000_orders', orders],
  ['20261201000000_collections', collections],
];

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => migrations.map(([name]) => name),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const found = migrations.find(([n]) => n === name);
    if (!found) throw new Error(`unknown migration ${name}`);
    return found[1];
  },
};
