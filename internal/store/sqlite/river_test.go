package sqlite_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/sluice-cd/sluice/internal/store"
)

type testJobArgs struct{}

func (testJobArgs) Kind() string { return "sluice_store_test" }

// TestRiverSharesTransaction checks the arrangement architecture rule 4
// relies on: River, on the Store's *sql.DB, inserts a job in the Store's
// transaction, so the job and the state change commit or roll back together.
func TestRiverSharesTransaction(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	db := s.DB().(*sql.DB)
	driver := riversqlite.New(db)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatalf("River migrations: %v", err)
	}
	client, err := river.NewClient(driver, &river.Config{})
	if err != nil {
		t.Fatal(err)
	}

	write := func(id string, fail error) error {
		return s.InTx(ctx, func(tx store.Tx) error {
			if err := tx.ExecutionInsert(ctx, &store.Execution{ID: id, Status: store.StatusNotStarted}); err != nil {
				return err
			}
			raw, err := tx.Raw(ctx)
			if err != nil {
				return err
			}
			if _, err := client.InsertTx(ctx, raw.(*sql.Tx), testJobArgs{}, nil); err != nil {
				return err
			}
			return fail
		})
	}
	jobs := func() int {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM river_job").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	errStop := errors.New("stop")
	if err := write("rolled-back", errStop); !errors.Is(err, errStop) {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.ExecutionGet(ctx, "rolled-back"); !errors.Is(err, store.ErrNotFound) || jobs() != 0 {
		t.Errorf("after rollback: ExecutionGet %v, %d jobs; want ErrNotFound and none", err, jobs())
	}
	if err := write("committed", nil); err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.ExecutionGet(ctx, "committed"); err != nil || jobs() != 1 {
		t.Errorf("after commit: ExecutionGet %v, %d jobs; want the execution and one job", err, jobs())
	}
}
