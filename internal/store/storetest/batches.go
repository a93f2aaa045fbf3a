package storetest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

// EventsBeforeBatches checks the migration that made each row of the event
// table a batch of events. exec runs a statement on a database at the
// schema version before it (Postgres 7, SQLite 6); open then opens the
// store, which migrates it. The events written before keep their IDs and
// their data byte for byte, and new batches start above them.
func EventsBeforeBatches(t *testing.T, exec func(query string) error, open func() store.Store) {
	t.Helper()
	const at = "2025-01-02T03:04:05.000000Z"
	for _, q := range []string{
		`INSERT INTO execution (id, application, pipeline_name, pipeline_config_id, pipeline_revision, status, user_name, created_at, updated_at)
VALUES ('e-1', 'app', 'p', 'c', 1, 'RUNNING', 'ann', '` + at + `', '` + at + `')`,
		`INSERT INTO event (execution_id, stage_id, type, data, created_at) VALUES ('e-1', 's-1', 'stage.status', '{ "status" : "RUNNING" }', '` + at + `')`,
		`INSERT INTO event (execution_id, stage_id, type, data, created_at) VALUES ('e-1', '', 'execution.status', NULL, '` + at + `')`,
		`INSERT INTO event (execution_id, stage_id, type, data, created_at) VALUES ('e-1', 's-"1"', 'x', 'null', '` + at + `')`,
	} {
		if err := exec(q); err != nil {
			t.Fatalf("before batches: %v\n%s", err, q)
		}
	}
	s := open()
	ctx := t.Context()
	created, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		t.Fatal(err)
	}
	want := []*store.Event{
		{ID: 1, ExecutionID: "e-1", StageID: "s-1", Type: "stage.status", Data: json.RawMessage(`{ "status" : "RUNNING" }`), CreatedAt: created},
		{ID: 2, ExecutionID: "e-1", Type: "execution.status", CreatedAt: created},
		{ID: 3, ExecutionID: "e-1", StageID: `s-"1"`, Type: "x", Data: json.RawMessage(`null`), CreatedAt: created},
	}
	check(t, "EventList of the events written before batches", mustEvents(t, s, store.EventListParams{ExecutionID: "e-1"}), want)

	batch := []*store.Event{{ExecutionID: "e-1", Type: "a"}, {ExecutionID: "e-1", Type: "b"}}
	if err := s.EventInsert(ctx, batch...); err != nil {
		t.Fatalf("EventInsert after the migration: %v", err)
	}
	check(t, "IDs of the first batch", eventIDs(batch), []int64{store.EventBatchSpan, store.EventBatchSpan + 1})
	check(t, "EventList after the second old event", eventIDs(mustEvents(t, s, store.EventListParams{AfterID: 2})),
		[]int64{3, store.EventBatchSpan, store.EventBatchSpan + 1})
	last, err := s.EventLastID(ctx)
	if err != nil {
		t.Fatalf("EventLastID: %v", err)
	}
	check(t, "EventLastID", last, int64(store.EventBatchSpan+1))
}

// MigrateBefore brings an empty database to the schema version before
// version: exec runs table, which creates sluice_migration, then, in
// order, the files migration/NNN_*.up.sql (of the package under test)
// numbered below version, each followed by record (a format of its version
// and name), so that opening the store applies only the rest.
func MigrateBefore(t *testing.T, exec func(query string) error, version int, table, record string) {
	t.Helper()
	files, err := filepath.Glob("migration/*.up.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	slices.Sort(files)
	if err := exec(table); err != nil {
		t.Fatalf("create sluice_migration: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".up.sql")
		number, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(number)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		if v >= version {
			continue
		}
		sql, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := exec(string(sql)); err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		if err := exec(fmt.Sprintf(record, v, name)); err != nil {
			t.Fatalf("record migration %s: %v", name, err)
		}
	}
}
