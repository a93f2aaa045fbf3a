package control

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/atomicfile"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// The model on disk: DataDir/control.db, a SQLite database with a row per
// function, version ($LATEST included), alias, event invoke configuration
// and event source mapping, each row's data the record's JSON. A change
// writes, in one transaction, only the rows it changed: UpdateAlias writes
// one alias row whatever the number of functions.
//
// The database runs in WAL mode with synchronous=FULL: every commit syncs
// the write-ahead log before the API answers, so an acknowledged change
// survives a kill of the process and a power loss or OS crash too
// (synchronous=NORMAL would survive only the kill: it syncs at
// checkpoints, and a power loss can take the last commits). A commit is
// one sequential append plus one fsync.
//
// The rows the database holds are also kept in memory, as JSON (rowCache),
// so that a change finds what it changed by comparing the JSON of the
// records it touched (controlState.write: the function it looked up, the
// mapping it named) with what was written last. The model itself stays in
// memory and serves every read.

const (
	dbFile = "control.db"
	// legacySnapshot is the JSON snapshot earlier builds rewrote whole on
	// every change; Open migrates it into the database once and renames it
	// to legacySnapshot + ".migrated".
	legacySnapshot = "state.json"
)

// table is one table of the database: its name and its key columns (one or
// two; the data column is "data").
type table struct {
	name string
	keys []string
}

// The tables, indexed by the tbl* constants.
var tables = [...]table{
	tblFunctions:          {"functions", []string{"name"}},
	tblVersions:           {"versions", []string{"function", "version"}},
	tblAliases:            {"aliases", []string{"function", "alias"}},
	tblEventInvokeConfigs: {"event_invoke_configs", []string{"function", "qualifier"}},
	tblMappings:           {"event_source_mappings", []string{"uuid"}},
}

const (
	tblFunctions = iota
	tblVersions
	tblAliases
	tblEventInvokeConfigs
	tblMappings
)

// rowKey names one row: its table and key values (k2 is "" for one-key
// tables).
type rowKey struct {
	table  int
	k1, k2 string
}

// functionRow is what the functions table holds of a function: everything
// but the records that have rows of their own ($LATEST and the published
// versions, aliases, event invoke configurations).
type functionRow struct {
	ID                  string                       `json:"id"`
	Running             *functionVersion             `json:"running,omitempty"`
	LastVersion         int                          `json:"lastVersion"`
	Tags                map[string]string            `json:"tags,omitempty"`
	ReservedConcurrency *int                         `json:"reservedConcurrency,omitempty"`
	Policies            map[string][]policyStatement `json:"policies,omitempty"`
	Created             time.Time                    `json:"created"`
}

// stateDB is the control plane's database and the JSON of the rows it
// holds. Its methods are called with controlState.mu held.
type stateDB struct {
	db   *sql.DB
	path string
	// upsert and remove are the prepared statements of each table.
	upsert, remove [len(tables)]*sql.Stmt
	// functions holds, by function name, the rows of each function as
	// written; mappings the event source mappings' rows by UUID.
	functions map[string]map[rowKey]string
	mappings  map[string]string
	// rowsWritten counts the rows written and deleted since Open, for the
	// tests that check a change writes only what it changed.
	rowsWritten uint64
}

// openDB opens (creating if need be) the database under dataDir.
func openDB(dataDir string) (*stateDB, error) {
	path := filepath.Join(dataDir, dbFile)
	// The model holds functions' environment variables: the file, and the
	// log and index files SQLite gives its mode, are the owner's alone.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the local Lambda's database %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	q.Add("_txlock", "immediate")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open the local Lambda's database %s: %w", path, err)
	}
	// One process owns the data directory (its lock file) and every
	// change is made under the catalog's lock: one connection.
	db.SetMaxOpenConns(1)
	s := &stateDB{db: db, path: path, functions: map[string]map[rowKey]string{}, mappings: map[string]string{}}
	if err := s.init(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open the local Lambda's database %s: %w", path, err)
	}
	return s, nil
}

const schemaVersion = 1

func (s *stateDB) init() error {
	// An existing database needs no DDL: opening it writes nothing.
	var v string
	if err := s.db.QueryRow("SELECT value FROM meta WHERE key = 'schema'").Scan(&v); err != nil {
		if err := s.create(); err != nil {
			return err
		}
		v = fmt.Sprint(schemaVersion)
	}
	if v != fmt.Sprint(schemaVersion) {
		return fmt.Errorf("the database has schema %s, this build reads schema %d: use the Sluice that wrote it, or move the data directory aside", v, schemaVersion)
	}
	return s.prepare()
}

// create makes the tables, in one transaction (one sync).
func (s *stateDB) create() error {
	var ddl strings.Builder
	ddl.WriteString("BEGIN IMMEDIATE;\n")
	ddl.WriteString("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;\n")
	for _, t := range tables {
		fmt.Fprintf(&ddl, "CREATE TABLE IF NOT EXISTS %s (%s TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (%s)) STRICT, WITHOUT ROWID;\n",
			t.name, strings.Join(t.keys, " TEXT NOT NULL, "), strings.Join(t.keys, ", "))
	}
	fmt.Fprintf(&ddl, "INSERT INTO meta (key, value) VALUES ('schema', '%d') ON CONFLICT DO NOTHING;\nCOMMIT;\n", schemaVersion)
	if _, err := s.db.Exec(ddl.String()); err != nil {
		_, _ = s.db.Exec("ROLLBACK")
		return err
	}
	return nil
}

// prepare prepares every table's statements.
func (s *stateDB) prepare() error {
	for i, t := range tables {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(t.keys)), ", ")
		var err error
		s.upsert[i], err = s.db.Prepare(fmt.Sprintf("INSERT INTO %s (%s, data) VALUES (%s, ?) ON CONFLICT (%s) DO UPDATE SET data = excluded.data",
			t.name, strings.Join(t.keys, ", "), marks, strings.Join(t.keys, ", ")))
		if err != nil {
			return err
		}
		s.remove[i], err = s.db.Prepare(fmt.Sprintf("DELETE FROM %s WHERE %s = ?", t.name, strings.Join(t.keys, " = ? AND ")))
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *stateDB) close() error { return s.db.Close() }

// load reads the whole model, for Open, and remembers every row it read.
func (s *stateDB) load() (*catalog, error) {
	m := &catalog{Format: modelFormat, Functions: map[string]*lambdaFunction{}, Mappings: map[string]*eventSourceMapping{}}
	fail := func(what string, err error) (*catalog, error) {
		return nil, fmt.Errorf("read the local Lambda's database %s: %s: %w", s.path, what, err)
	}
	err := s.scan(tblFunctions, func(k1, _ string, data string) error {
		var row functionRow
		if err := json.Unmarshal([]byte(data), &row); err != nil {
			return err
		}
		fn := &lambdaFunction{Name: k1, ID: row.ID, Running: row.Running, LastVersion: row.LastVersion, Tags: row.Tags,
			ReservedConcurrency: row.ReservedConcurrency, Policies: row.Policies, Created: row.Created, Versions: map[string]*functionVersion{}, Aliases: map[string]*functionAlias{}}
		m.Functions[k1] = fn
		s.functions[k1] = map[rowKey]string{{tblFunctions, k1, ""}: data}
		return nil
	})
	if err != nil {
		return fail("functions", err)
	}
	// owner finds the function a row hangs off; a row without one is left
	// out (it cannot be written without its function row).
	owner := func(t int, k1, k2, data string) *lambdaFunction {
		fn := m.Functions[k1]
		if fn != nil {
			s.functions[k1][rowKey{t, k1, k2}] = data
		}
		return fn
	}
	err = s.scan(tblVersions, func(k1, k2, data string) error {
		var v functionVersion
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			return err
		}
		if fn := owner(tblVersions, k1, k2, data); fn != nil {
			if k2 == latestQualif {
				fn.Latest = &v
			} else {
				fn.Versions[k2] = &v
			}
		}
		return nil
	})
	if err != nil {
		return fail("versions", err)
	}
	err = s.scan(tblAliases, func(k1, k2, data string) error {
		var a functionAlias
		if err := json.Unmarshal([]byte(data), &a); err != nil {
			return err
		}
		if fn := owner(tblAliases, k1, k2, data); fn != nil {
			fn.Aliases[k2] = &a
		}
		return nil
	})
	if err != nil {
		return fail("aliases", err)
	}
	err = s.scan(tblEventInvokeConfigs, func(k1, k2, data string) error {
		var c eventInvokeConfig
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			return err
		}
		if fn := owner(tblEventInvokeConfigs, k1, k2, data); fn != nil {
			if fn.EventInvokeConfigs == nil {
				fn.EventInvokeConfigs = map[string]*eventInvokeConfig{}
			}
			fn.EventInvokeConfigs[k2] = &c
		}
		return nil
	})
	if err != nil {
		return fail("event invoke configurations", err)
	}
	err = s.scan(tblMappings, func(k1, _, data string) error {
		var e eventSourceMapping
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return err
		}
		m.Mappings[k1] = &e
		s.mappings[k1] = data
		return nil
	})
	if err != nil {
		return fail("event source mappings", err)
	}
	for name, fn := range m.Functions {
		if fn.Latest == nil {
			return fail("functions", fmt.Errorf("function %s has no $LATEST row", name))
		}
	}
	return m, nil
}

// scan calls fn for every row of table t.
func (s *stateDB) scan(t int, fn func(k1, k2, data string) error) error {
	tb := tables[t]
	k2 := "''"
	if len(tb.keys) > 1 {
		k2 = tb.keys[1]
	}
	rows, err := s.db.Query(fmt.Sprintf("SELECT %s, %s, data FROM %s", tb.keys[0], k2, tb.name))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var a, b, data string
		if err := rows.Scan(&a, &b, &data); err != nil {
			return err
		}
		if err := fn(a, b, data); err != nil {
			return fmt.Errorf("row %s: %w", a, err)
		}
	}
	return rows.Err()
}

// functionRows is the rows a function is stored as (none for nil: a
// deleted function).
func functionRows(name string, fn *lambdaFunction) (map[rowKey]string, error) {
	rows := map[rowKey]string{}
	if fn == nil {
		return rows, nil
	}
	var errs []error
	put := func(k rowKey, v any) {
		b, err := json.Marshal(v)
		errs = append(errs, err)
		rows[k] = string(b)
	}
	put(rowKey{tblFunctions, name, ""}, functionRow{ID: fn.ID, Running: fn.Running, LastVersion: fn.LastVersion, Tags: fn.Tags,
		ReservedConcurrency: fn.ReservedConcurrency, Policies: fn.Policies, Created: fn.Created})
	put(rowKey{tblVersions, name, latestQualif}, fn.Latest)
	for q, v := range fn.Versions {
		put(rowKey{tblVersions, name, q}, v)
	}
	for a, al := range fn.Aliases {
		put(rowKey{tblAliases, name, a}, al)
	}
	for q, c := range fn.EventInvokeConfigs {
		put(rowKey{tblEventInvokeConfigs, name, q}, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("encode function %s: %w", name, err)
	}
	return rows, nil
}

// rowChange is one row to write (data) or delete (data == nil).
type rowChange struct {
	key  rowKey
	data *string
}

// touched names the records a write may have changed.
type touched struct {
	functions map[string]bool
	mappings  map[string]bool
}

// changes compares the touched records of m with the rows last written and
// returns the rows to write, and the rows each touched record now has.
func (s *stateDB) changes(m *catalog, t *touched) ([]rowChange, map[string]map[rowKey]string, map[string]*string, error) {
	var out []rowChange
	fnRows := map[string]map[rowKey]string{}
	for name := range t.functions {
		rows, err := functionRows(name, m.Functions[name])
		if err != nil {
			return nil, nil, nil, err
		}
		fnRows[name] = rows
		old := s.functions[name]
		for k, v := range rows {
			if prev, ok := old[k]; !ok || prev != v {
				out = append(out, rowChange{key: k, data: &v})
			}
		}
		for k := range old {
			if _, ok := rows[k]; !ok {
				out = append(out, rowChange{key: k})
			}
		}
	}
	esmRows := map[string]*string{}
	for id := range t.mappings {
		e := m.Mappings[id]
		var data *string
		if e != nil {
			b, err := json.Marshal(e)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("encode event source mapping %s: %w", id, err)
			}
			str := string(b)
			data = &str
		}
		esmRows[id] = data
		prev, had := s.mappings[id]
		switch {
		case data != nil && (!had || prev != *data):
			out = append(out, rowChange{key: rowKey{tblMappings, id, ""}, data: data})
		case data == nil && had:
			out = append(out, rowChange{key: rowKey{tblMappings, id, ""}})
		}
	}
	return out, fnRows, esmRows, nil
}

// commit writes what the touched records changed, in one transaction;
// nothing when nothing changed.
func (s *stateDB) commit(m *catalog, t *touched) error {
	out, fnRows, esmRows, err := s.changes(m, t)
	if err != nil || len(out) == 0 {
		return err
	}
	if err := s.apply(out, nil); err != nil {
		return err
	}
	for name, rows := range fnRows {
		if len(rows) == 0 {
			delete(s.functions, name)
		} else {
			s.functions[name] = rows
		}
	}
	for id, data := range esmRows {
		if data == nil {
			delete(s.mappings, id)
		} else {
			s.mappings[id] = *data
		}
	}
	return nil
}

// apply writes rows in one transaction, and runs extra in it if set.
func (s *stateDB) apply(out []rowChange, extra func(*sql.Tx) error) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	for _, c := range out {
		args := []any{c.key.k1}
		if len(tables[c.key.table].keys) > 1 {
			args = append(args, c.key.k2)
		}
		stmt := s.remove[c.key.table]
		if c.data != nil {
			stmt = s.upsert[c.key.table]
			args = append(args, *c.data)
		}
		if _, err := tx.StmtContext(ctx, stmt).Exec(args...); err != nil {
			return fmt.Errorf("%s: %w", tables[c.key.table].name, err)
		}
	}
	if extra != nil {
		if err := extra(tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.rowsWritten += uint64(len(out))
	return nil
}

// restore puts the touched records of m back as the database has them,
// after a commit failed.
func (s *stateDB) restore(m *catalog, t *touched) error {
	for name := range t.functions {
		rows := s.functions[name]
		if len(rows) == 0 {
			delete(m.Functions, name)
			continue
		}
		fn, err := decodeFunction(name, rows)
		if err != nil {
			return err
		}
		m.Functions[name] = fn
	}
	for id := range t.mappings {
		data, ok := s.mappings[id]
		if !ok {
			delete(m.Mappings, id)
			continue
		}
		var e eventSourceMapping
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return err
		}
		m.Mappings[id] = &e
	}
	return nil
}

// decodeFunction rebuilds a function from its rows.
func decodeFunction(name string, rows map[rowKey]string) (*lambdaFunction, error) {
	fn := &lambdaFunction{Name: name, Versions: map[string]*functionVersion{}, Aliases: map[string]*functionAlias{}}
	for k, data := range rows {
		var err error
		switch k.table {
		case tblFunctions:
			var row functionRow
			if err = json.Unmarshal([]byte(data), &row); err == nil {
				fn.ID, fn.Running, fn.LastVersion, fn.Tags, fn.ReservedConcurrency, fn.Policies, fn.Created = row.ID, row.Running, row.LastVersion, row.Tags, row.ReservedConcurrency, row.Policies, row.Created
			}
		case tblVersions:
			v := &functionVersion{}
			if err = json.Unmarshal([]byte(data), v); err == nil {
				if k.k2 == latestQualif {
					fn.Latest = v
				} else {
					fn.Versions[k.k2] = v
				}
			}
		case tblAliases:
			a := &functionAlias{}
			if err = json.Unmarshal([]byte(data), a); err == nil {
				fn.Aliases[k.k2] = a
			}
		case tblEventInvokeConfigs:
			c := &eventInvokeConfig{}
			if err = json.Unmarshal([]byte(data), c); err == nil {
				if fn.EventInvokeConfigs == nil {
					fn.EventInvokeConfigs = map[string]*eventInvokeConfig{}
				}
				fn.EventInvokeConfigs[k.k2] = c
			}
		}
		if err != nil {
			return nil, fmt.Errorf("decode function %s: %w", name, err)
		}
	}
	return fn, nil
}

// migrateSnapshot moves the model of a legacy state.json, if dataDir has
// one, into the database: every row in one transaction, then the file is
// renamed to state.json.migrated. A crash in between leaves the file, and
// the next start sees the database already migrated and only renames it.
func (s *stateDB) migrateSnapshot(dataDir string) error {
	path := filepath.Join(dataDir, legacySnapshot)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the local Lambda's earlier state %s: %w", path, err)
	}
	var done string
	switch err := s.db.QueryRow("SELECT value FROM meta WHERE key = 'migrated'").Scan(&done); {
	case errors.Is(err, sql.ErrNoRows):
		m, err := decodeSnapshot(path, b)
		if err != nil {
			return err
		}
		var out []rowChange
		for name, fn := range m.Functions {
			rows, err := functionRows(name, fn)
			if err != nil {
				return err
			}
			for k, v := range rows {
				out = append(out, rowChange{key: k, data: &v})
			}
		}
		for id, e := range m.Mappings {
			data, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode event source mapping %s: %w", id, err)
			}
			str := string(data)
			out = append(out, rowChange{key: rowKey{tblMappings, id, ""}, data: &str})
		}
		// The marker goes in the same transaction as the rows.
		err = s.apply(out, func(tx *sql.Tx) error {
			_, err := tx.Exec("INSERT INTO meta (key, value) VALUES ('migrated', ?)", legacySnapshot)
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s into %s: %w", path, s.path, err)
		}
	case err != nil:
		return err
	}
	if err := os.Rename(path, path+".migrated"); err != nil {
		return fmt.Errorf("rename the migrated %s: %w", path, err)
	}
	return atomicfile.SyncDir(dataDir)
}

// decodeSnapshot reads the JSON snapshot of earlier builds.
func decodeSnapshot(path string, b []byte) (*catalog, error) {
	m := &catalog{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode the local Lambda's earlier state %s: %w", path, err)
	}
	if m.Format != modelFormat {
		return nil, fmt.Errorf("the local Lambda's earlier state %s has format %d, this build reads format %d", path, m.Format, modelFormat)
	}
	for name, fn := range m.Functions {
		if fn == nil || fn.Latest == nil {
			return nil, fmt.Errorf("the local Lambda's earlier state %s: function %s has no $LATEST", path, name)
		}
	}
	for id, e := range m.Mappings {
		if e == nil {
			return nil, fmt.Errorf("the local Lambda's earlier state %s: event source mapping %s is null", path, id)
		}
	}
	return m, nil
}

// untracked lists the records of m whose rows differ from what was written:
// changes a write made without touching the record, which it did not
// write. For tests (controlState.verify); it encodes the whole model.
func (s *stateDB) untracked(m *catalog) []string {
	var out []string
	for name, fn := range m.Functions {
		rows, err := functionRows(name, fn)
		if err != nil || !maps.Equal(rows, s.functions[name]) {
			out = append(out, "function "+name)
		}
	}
	for name := range s.functions {
		if m.Functions[name] == nil {
			out = append(out, "deleted function "+name)
		}
	}
	for id, e := range m.Mappings {
		b, err := json.Marshal(e)
		if err != nil || string(b) != s.mappings[id] {
			out = append(out, "event source mapping "+id)
		}
	}
	for id := range s.mappings {
		if m.Mappings[id] == nil {
			out = append(out, "deleted event source mapping "+id)
		}
	}
	return out
}
