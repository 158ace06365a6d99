// Safe errors: a database error, produced for real on this run's database, keeps its class, code and schema names but none of its values.
import { expect } from 'chai';
import { knexConfig } from '../../shared/platform/db.js';
import { RetryableError } from '../../shared/platform/errors/retryable.js';
import { RedactedDatabaseError, redactDatabaseError, safeError } from '../../shared/platform/errors/safe-error.js';
import { isUniqueViolation } from '../../shared/platform/errors/unique-violation.js';
import { isUnavailable } from '../../shared/platform/errors/unavailable.js';
import { serializeErr } from '../../shared/platform/logger.js';
import { createTestDb, usingPostgres, type TestDb } from '../helpers/db.js';
import { closedAfterEach } from '../helpers/lifecycle.js';

const SECRET = 'mario.rossi@secret.example';

/** Everything an error carries that could end up in a log or a job record. */
const everything = (err: unknown) => JSON.stringify({ ...(err as object), message: (err as Error).message, stack: (err as Error).stack });

describe('safe errors', () => {
  const opened = closedAfterEach();
  let testDb: TestDb;
  const pg = usingPostgres();

  beforeEach(async () => {
    const created = await createTestDb();
    testDb = opened({ ...created, close: () => created.destroy() });
    await testDb.db.schema.createTable('probe', (t) => {
      t.string('id', 64).primary();
      t.string('name', 64).notNullable();
      t.integer('amount').checkPositive('probe_amount_positive');
      t.uuid('ref');
    });
    await testDb.db('probe').insert({ id: SECRET, name: SECRET, amount: 1 });
  });

  async function failure(work: PromiseLike<unknown>): Promise<Error> {
    try {
      await work;
    } catch (err) {
      return err as Error;
    }
    throw new Error('the statement succeeded');
  }

  const driverClass = pg ? 'DatabaseError' : 'SqliteError';

  it('knex puts placeholders, not bound values, in its error messages, on both clients', async () => {
    expect(knexConfig({ url: 'postgres://db.example/antaeus' }).compileSqlOnError).to.equal(false);
    expect(knexConfig({ url: ':memory:' }).compileSqlOnError).to.equal(false);
    const err = await failure(testDb.db('probe').insert({ id: SECRET, name: 'Mario Rossi' }));
    expect(err.message).to.match(pg ? /values \(\$1, \$2\)/ : /values \(\?, \?\)/);
    expect(err.message).to.not.contain(SECRET);
  });

  it('names a unique violation by its constraint, without the duplicated value', async () => {
    const err = await failure(testDb.db('probe').insert({ id: SECRET, name: 'Mario Rossi' }));
    // PostgreSQL quotes the value in `detail`: "Key (id)=(mario.rossi@…) already exists."
    if (pg) expect(everything(err)).to.contain(SECRET);
    expect(safeError(err)).to.deep.equal(
      pg
        ? { type: 'DatabaseError', code: '23505', message: 'unique constraint violated (table probe, constraint probe_pkey)' }
        : { type: 'SqliteError', code: 'SQLITE_CONSTRAINT_PRIMARYKEY', message: 'unique constraint violated (probe.id)' },
    );
  });

  it('names a not-null and a check violation without the failing row', async () => {
    const notNull = await failure(testDb.db('probe').insert({ id: 'p-2', name: null, amount: 3 }));
    expect(safeError(notNull)).to.deep.equal(
      pg
        ? { type: 'DatabaseError', code: '23502', message: 'not-null constraint violated (table probe, column name)' }
        : { type: 'SqliteError', code: 'SQLITE_CONSTRAINT_NOTNULL', message: 'not-null constraint violated (probe.name)' },
    );
    const check = await failure(testDb.db('probe').insert({ id: 'p-3', name: SECRET, amount: -7 }));
    // PostgreSQL's `detail`: "Failing row contains (p-3, mario.rossi@…, -7, null)."
    if (pg) expect(everything(check)).to.contain(SECRET);
    expect(safeError(check)).to.deep.equal(
      pg
        ? { type: 'DatabaseError', code: '23514', message: 'check constraint violated (table probe, constraint probe_amount_positive)' }
        : { type: 'SqliteError', code: 'SQLITE_CONSTRAINT_CHECK', message: 'check constraint violated (probe_amount_positive)' },
    );
  });

  it('says a NUL byte is not valid text, and that a value does not fit its type, without quoting either (PostgreSQL)', async function () {
    if (!pg) this.skip(); // SQLite stores both as given
    const nul = await failure(testDb.db('probe').insert({ id: 'p-4', name: `${SECRET}\u0000` }));
    expect(safeError(nul)).to.deep.equal({ type: 'DatabaseError', code: '22021', message: 'character not valid in the encoding (such as a NUL byte)' });
    // The driver's own message quotes the value here: `invalid input syntax for type uuid: "mario.rossi@…"`.
    const uuid = await failure(testDb.db('probe').insert({ id: 'p-5', name: 'x', ref: SECRET }));
    expect(uuid.message).to.contain(SECRET);
    expect(safeError(uuid)).to.deep.equal({ type: 'DatabaseError', code: '22P02', message: 'input not valid for the column type' });
  });

  it('leaves every other error as it is', () => {
    expect(safeError(new RetryableError('provider answered 503'))).to.deep.equal({ type: 'RetryableError', message: 'provider answered 503' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(safeError(refused)).to.deep.equal({ type: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:5432' });
    expect(safeError('a string')).to.deep.equal({ type: 'string', message: 'a string' });
    expect(redactDatabaseError(refused)).to.equal(refused);
  });

  it('logs a database error, or one caused by it, as class, code, safe message and stack frames', async () => {
    const err = await failure(testDb.db('probe').insert({ id: SECRET, name: SECRET, amount: -1 }));
    const logged = serializeErr(err) as Record<string, string>;
    expect(logged).to.include({ type: driverClass, code: (err as Error & { code: string }).code });
    expect(logged.stack).to.match(/\n\s+at /);
    const wrapped = serializeErr(new Error('could not save the customer', { cause: err })) as Record<string, unknown>;
    expect(wrapped).to.include({ type: 'Error', message: 'could not save the customer' });
    expect(wrapped.cause).to.include({ type: driverClass });
    for (const line of [logged, wrapped]) expect(JSON.stringify(line)).to.not.contain(SECRET).and.not.contain('rossi');
    // Other errors keep pino's own shape.
    expect(serializeErr(new RetryableError('provider answered 503'))).to.include({ type: 'RetryableError', message: 'provider answered 503' });
  });

  it('gives workers a stand-in that names the class and code, keeps the code for checks, and carries no value', async () => {
    const err = await failure(testDb.db('probe').insert({ id: SECRET, name: SECRET }));
    const redacted = redactDatabaseError(err);
    expect(redacted).to.be.instanceOf(RedactedDatabaseError);
    expect(redacted.message).to.equal(
      pg
        ? 'DatabaseError 23505: unique constraint violated (table probe, constraint probe_pkey)'
        : 'SqliteError SQLITE_CONSTRAINT_PRIMARYKEY: unique constraint violated (probe.id)',
    );
    expect(redacted.stack).to.match(/^RedactedDatabaseError: .*\n\s+at /);
    expect(everything(redacted)).to.not.contain(SECRET);
    expect(isUniqueViolation(redacted)).to.equal(true);
    expect(isUnavailable(redacted)).to.equal(false);
  });
});
