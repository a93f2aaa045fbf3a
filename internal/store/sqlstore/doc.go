// Package sqlstore owns the SQL behind store.Store: one implementation of
// every Querier method, the transaction and migration logic, written once for
// both SQLite and Postgres. Packages sqlite and postgres supply a driver
// adapter (a Pool) and their embedded migrations and get a *Store back.
//
// sqlstore must not import a database driver: everything driver-specific
// (connections, error codes, the transaction type River needs) stays behind
// the Pool and PoolTx interfaces, and everything dialect-specific in the SQL
// text is in dialect.go. It must not know what the records mean beyond the
// store package's contract.
//
// # Adapters
//
// A Pool runs statements and begins transactions; a PoolTx is one open
// transaction. Both translate driver errors: "no rows" becomes
// store.ErrNotFound, a unique violation wraps store.ErrConflict and a foreign
// key violation wraps ErrForeignKey, so the queries branch with errors.Is and
// never look at driver codes.
//
// # Dialect differences
//
// Queries are written once with ? placeholders; on Postgres they are rewritten
// to $1, $2, … before they are sent. The other differences are:
//
//   - Times. Postgres columns are timestamptz and take time.Time. SQLite
//     columns are TEXT holding fixed-width UTC RFC 3339 with microseconds
//     ("2006-01-02T15:04:05.000000Z"), so text order is time order and the
//     keyset pagination of ExecutionList works on both. Every time the store
//     writes is first converted to UTC and truncated to the microsecond (what
//     timestamptz keeps), and the converted value is written back into the
//     caller's struct, so a struct compares equal to what a later read
//     returns.
//   - JSON. SQLite stores JSON as TEXT, Postgres as json (not jsonb): both
//     keep the bytes exactly as written, which the contract requires of
//     pipeline documents and which keeps the two dialects identical. Nothing
//     queries inside a document, so jsonb's indexing would buy nothing. A nil
//     or empty json.RawMessage is stored as NULL and read back as nil.
//   - Locking. ExecutionLock is SELECT … FOR UPDATE on Postgres; on SQLite
//     every write transaction already holds the database's write lock
//     (BEGIN IMMEDIATE), so it is a plain SELECT.
//   - Event order. Event IDs grow in commit order per execution, not
//     across executions (the store contract, EventInsert). Both dialects get
//     that from the caller's ExecutionLock, held from before the IDs are
//     drawn to the commit. SQLite also serialises all writers, so there its
//     AUTOINCREMENT IDs commit in order across executions too; Postgres
//     draws identity values at INSERT and lets transactions of different
//     executions commit in any order. No lock makes it otherwise: an
//     advisory lock on the event table did, and serialised every engine
//     transition from its first event to its commit. A batch's ID comes
//     from Postgres's identity, whose increment is store.EventBatchSpan
//     (migration 008); on SQLite the insert computes it from
//     sqlite_sequence.
//   - ID lists. EventList's Batches are one argument: a bigint array for
//     = ANY on Postgres, a JSON array read with json_each on SQLite, so the
//     statement text does not vary with the list's length.
//
// # Transactions
//
// Store.InTx runs fn in one write transaction. A Querier method called on
// the Store itself (outside InTx) that needs more than one statement, such as
// ExecutionInsert or PipelineSave, opens its own transaction, so it is atomic
// either way; ExecutionGet outside a transaction reads the execution and its
// stages in one read-only (on Postgres REPEATABLE READ) transaction, so they
// are consistent.
//
// A dialect may hand New a second pool for reads (Config.Reads): the
// methods that only read, called on the Store, then run on it, and so does
// Ping; everything else, ExecutionLock included, runs on the main pool.
// SQLite does, because its main pool is the one connection River shares,
// and a transaction holds it for as long as the transaction runs. Each
// read method starts with querier.reader(); a new one must too, and a
// method that writes must not, since the pool for reads is read-only.
//
// On Postgres a statement that fails aborts the whole transaction, where
// SQLite carries on. The errors callers branch on must not differ: a taken
// ID in ExecutionInsert or StageInsert is detected with ON CONFLICT DO
// NOTHING and reported as ErrConflict without failing a statement, and
// ErrNotFound from reads and updates comes from empty results. Any other
// error inside InTx should be returned from fn.
//
// # History
//
// ExecutionPurge (retention.go) deletes aged-out executions in
// transactions of a bounded number each; the lists of ExecutionList are
// served by indexes made for each of them (migration 005), which the
// query-plan test in storetest checks on both dialects. history.go holds
// what the benchmarks and that test need: FillExecutions writes many
// executions in the database itself, ExplainExecutionList shows a list's
// plan, Size the database's size.
//
// # Migrations
//
// Each dialect embeds numbered files, migration/NNN_name.up.sql. New applies
// the ones not yet recorded in the sluice_migration table, in order, in one
// transaction. On Postgres that transaction first takes an advisory lock
// keyed on the schema, so processes that start together apply each
// migration once; on SQLite BEGIN IMMEDIATE does the same. There are no down
// migrations. River's tables are River's: rivermigrate creates them.
package sqlstore
