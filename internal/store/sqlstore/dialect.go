package sqlstore

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// sqliteTimeLayout is how SQLite columns hold times: fixed width, so that
// text order is time order.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// dialect holds what differs in the SQL text between SQLite and Postgres.
type dialect struct {
	name store.Dialect
	// numbered rewrites ? placeholders to $1, $2, ….
	numbered bool
	// forUpdate ends ExecutionLock's SELECT.
	forUpdate string
	// dataVersion returns a number that changes when another connection
	// commits (stageCache); empty where the dialect has none.
	dataVersion string
	// migrationTable creates sluice_migration if it is missing.
	migrationTable string
	// migrationLock, when set, is run first in the migration transaction.
	migrationLock string
	// triggerText is an execution's trigger JSON as text.
	triggerText string
	// triggerParam is a condition with two placeholders: the trigger's
	// parameter named by the first (as triggerParamArg makes it) has the
	// text of the second.
	triggerParam string
	// pageLimit limits a list to a page, the page size its one argument.
	//
	// On Postgres the planner is not told the page size. A prepared
	// statement (pgx prepares every statement) is planned for its
	// arguments five times, then given a generic plan if that is
	// estimated no dearer than those were. A generic plan's LIMIT $n is
	// estimated to read a tenth of what matches, which on a long history
	// costs far more than the page its custom plans read, so every call
	// was planned afresh, the planning costing more than the read
	// (docs/benchmarks.md, "Lists at a million executions"). A scalar
	// subquery is a limit no plan can estimate, so every plan assumes
	// that tenth, custom plans cost what the generic one does, and the
	// generic plan is kept at any size. The tenth still makes reading an
	// index in order cheaper than sorting what matched. A literal page
	// size would also keep the plan, but without statistics a planner
	// that expects fewer matches than a page sorts them all.
	pageLimit string
	// eventBatchID, when set, is the ID EventInsert gives a new batch;
	// where it is empty the table draws it (Postgres's identity, whose
	// increment is store.EventBatchSpan).
	eventBatchID string
}

// triggerParamArg is the first argument of triggerParam for the
// parameter key.
func (d *dialect) triggerParamArg(key string) string {
	if d.name == store.DialectSQLite {
		return `$.parameters."` + key + `"`
	}
	return key
}

func newDialect(name store.Dialect) (*dialect, error) {
	switch name {
	case store.DialectSQLite:
		return &dialect{
			name:         name,
			dataVersion:  "PRAGMA data_version",
			triggerText:  "trigger_json",
			triggerParam: "CAST(json_extract(trigger_json, ?) AS TEXT) = ?",
			pageLimit:    "LIMIT ?",
			// The next multiple of the span above every ID AUTOINCREMENT
			// ever drew (sqlite_sequence keeps it, and raises it to the
			// ID given).
			eventBatchID: fmt.Sprintf("(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'event'), 0) / %[1]d + 1) * %[1]d",
				store.EventBatchSpan),
			migrationTable: `CREATE TABLE IF NOT EXISTS sluice_migration (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
) STRICT`,
		}, nil
	case store.DialectPostgres:
		return &dialect{
			name:         name,
			numbered:     true,
			forUpdate:    " FOR UPDATE",
			triggerText:  "trigger_json::text",
			triggerParam: "json_extract_path_text(trigger_json, 'parameters', ?) = ?",
			pageLimit:    "LIMIT (SELECT CAST(? AS bigint))",
			migrationTable: `CREATE TABLE IF NOT EXISTS sluice_migration (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL
)`,
			// Keyed on the schema, so that stores in different schemas of
			// one database (tests) do not wait for each other.
			migrationLock: `SELECT pg_advisory_xact_lock(hashtextextended('sluice_migration.' || coalesce(current_schema(), ''), 0))`,
		}, nil
	}
	return nil, fmt.Errorf("unknown dialect %q", name)
}

// rebind rewrites the ? placeholders of query for the driver. Queries never
// contain a literal question mark.
func (d *dialect) rebind(query string) string {
	if !d.numbered {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for {
		i := strings.IndexByte(query, '?')
		if i < 0 {
			b.WriteString(query)
			return b.String()
		}
		n++
		b.WriteString(query[:i])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		query = query[i+1:]
	}
}

// inInts returns the condition that column col is one of ids, and its one
// argument: = ANY of a bigint array on Postgres, IN over json_each of a JSON
// array on SQLite. A single argument keeps the statement text the same
// whatever len(ids), so SQLite's per-connection statement cache holds one
// entry for it and no list is too long for SQLite's limit on variables.
func (d *dialect) inInts(col string, ids []int64) (string, any) {
	if d.name == store.DialectSQLite {
		var b strings.Builder
		b.WriteByte('[')
		for i, id := range ids {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(id, 10))
		}
		b.WriteByte(']')
		return col + " IN (SELECT value FROM json_each(?))", b.String()
	}
	return col + " = ANY(?)", ids
}

// time encodes t, already normalised, as a query argument.
func (d *dialect) time(t time.Time) any {
	if d.name == store.DialectSQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// nullTime encodes t, already normalised, as a query argument; nil is NULL.
func (d *dialect) nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.time(*t)
}

// normTime is how the store keeps times: UTC, to the microsecond.
func normTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// normNullTime normalises *t in place.
func normNullTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}

// jsonArg encodes a JSON column value: NULL when raw is empty, else its
// text. Both drivers store a string unchanged (pgx passes a string to a json
// parameter as the JSON text itself).
func jsonArg(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// checkJSON reports an error naming what when raw is neither empty nor valid
// JSON. Postgres would reject it too, but SQLite would store it.
func checkJSON(what string, raw json.RawMessage) error {
	if len(raw) > 0 && !json.Valid(raw) {
		return fmt.Errorf("%s is not valid JSON", what)
	}
	return nil
}

// inStrings is inInts for text: = ANY of a text array on Postgres, IN over
// json_each of a JSON array on SQLite.
func (d *dialect) inStrings(col string, vals []string) (string, any) {
	if d.name == store.DialectSQLite {
		b, _ := json.Marshal(vals)
		return col + " IN (SELECT value FROM json_each(?))", string(b)
	}
	return col + " = ANY(?)", vals
}

// mustChange makes write, an UPDATE or DELETE that must change a row, fail
// when it changes none: on Postgres with SQLSTATE P0002 (no_data_found),
// which sluice_changed (migration 007) raises and the adapter translates
// to store.ErrNotFound. Only Postgres transactions pipeline (execOne);
// elsewhere the caller counts the rows, and write is returned as it is.
func (d *dialect) mustChange(write string) string {
	if d.name != store.DialectPostgres {
		return write
	}
	return `WITH changed AS (` + write + ` RETURNING 1) SELECT sluice_changed(count(*)) FROM changed`
}
