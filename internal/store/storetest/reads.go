package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

var readTests = []test{
	{"SeeCommits", testReadsSeeCommits},
}

// testReadsSeeCommits commits a change, then reads it outside a transaction,
// several times over and from several goroutines at once: every read that
// begins after InTx returned sees what it committed. A read connection that
// kept an old snapshot open (a statement not reset, say) would show the
// previous round's values.
func testReadsSeeCommits(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustInsert(t, s, newExecution("e-1", "app", "p", status.Running, at(0), 1))
	mustSave(t, s, &store.PipelineSaveParams{Application: "app", Name: "p", Document: doc("app", "p", 0)})
	for i := range 10 {
		// On Postgres the event's ID is set by the commit (store.Tx).
		ev := &store.Event{ExecutionID: "e-1", Type: "stage.status"}
		err := s.InTx(ctx, func(tx store.Tx) error {
			e, err := tx.ExecutionLock(ctx, "e-1")
			if err != nil {
				return err
			}
			e.Stages[0].Context = roundJSON(i)
			if err := tx.StageUpdate(ctx, e.Stages[0]); err != nil {
				return err
			}
			if _, err := tx.PipelineSave(ctx, &store.PipelineSaveParams{Application: "app", Name: "p", Document: doc("app", "p", i+1)}); err != nil {
				return err
			}
			return tx.EventInsert(ctx, ev)
		})
		if err != nil {
			t.Fatalf("round %d: InTx: %v", i, err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if e, err := s.ExecutionGet(ctx, "e-1"); err != nil {
					t.Errorf("round %d: ExecutionGet: %v", i, err)
				} else if got, want := string(e.Stages[0].Context), string(roundJSON(i)); got != want {
					t.Errorf("round %d: ExecutionGet after commit: stage context %s, want %s", i, got, want)
				}
				if p, err := s.PipelineGet(ctx, "app", "p"); err != nil {
					t.Errorf("round %d: PipelineGet: %v", i, err)
				} else if p.Revision != i+2 {
					t.Errorf("round %d: PipelineGet after commit: revision %d, want %d", i, p.Revision, i+2)
				}
				if last, err := s.EventLastID(ctx); err != nil {
					t.Errorf("round %d: EventLastID: %v", i, err)
				} else if last != ev.ID {
					t.Errorf("round %d: EventLastID after commit = %d, want %d", i, last, ev.ID)
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// ReadsBesideWriter checks that while another goroutine holds a write
// transaction open, every Querier method that only reads, called on the
// Store, and Ping are answered, with what was committed before it; and that
// once it commits, reads see what it wrote. It is not part of Run because
// the SQLite store on ":memory:" has one connection, on which reads wait
// for the writer. A store that makes them wait fails here with the
// context's deadline, after readWait, rather than hanging.
func ReadsBesideWriter(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := mustSave(t, s, &store.PipelineSaveParams{Application: "app", Name: "p", Document: doc("app", "p", 1)})
	e := newExecution("e-1", "app", "p", status.Running, at(0), 2)
	mustInsert(t, s, e)
	if err := s.EventInsert(ctx, &store.Event{ExecutionID: "e-1", Type: "execution.status"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AuditInsert(ctx, &store.AuditEntry{User: "ann", Action: "trigger", ExecutionID: "e-1"}); err != nil {
		t.Fatal(err)
	}

	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(ctx, func(tx store.Tx) error {
			e, err := tx.ExecutionLock(ctx, "e-1")
			if err != nil {
				return err
			}
			e.Status = status.Succeeded
			if err := tx.ExecutionUpdate(ctx, e); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	// finish lets the transaction commit and returns its error; deferred
	// too, so a failed check does not leave it open.
	var once sync.Once
	var txErr error
	finish := func() error {
		once.Do(func() {
			close(release)
			txErr = <-done
		})
		return txErr
	}
	defer finish()
	select {
	case <-holding:
	case err := <-done:
		once.Do(func() { txErr = err })
		t.Fatalf("InTx ended before the reads: %v", err)
	}

	rctx, cancel := context.WithTimeout(ctx, readWait)
	defer cancel()
	reads := []struct {
		name string
		read func() error
	}{
		{"Ping", func() error { return s.Ping(rctx) }},
		{"PipelineGet", func() error { _, err := s.PipelineGet(rctx, "app", "p"); return err }},
		{"PipelineGetByID", func() error { _, err := s.PipelineGetByID(rctx, p.ID); return err }},
		{"PipelineList", func() error { _, err := s.PipelineList(rctx, nil); return err }},
		{"PipelineRevisionList", func() error { _, err := s.PipelineRevisionList(rctx, p.ID); return err }},
		{"PipelineRevisionGet", func() error { _, err := s.PipelineRevisionGet(rctx, p.ID, 1); return err }},
		{"ExecutionGet", func() error {
			got, err := s.ExecutionGet(rctx, "e-1")
			if err == nil && got.Status != status.Running {
				err = fmt.Errorf("status %s, want %s: the transaction has not committed", got.Status, status.Running)
			}
			return err
		}},
		{"ExecutionList", func() error { _, err := s.ExecutionList(rctx, nil); return err }},
		{"ExecutionListByConfig", func() error { _, err := s.ExecutionListByConfig(rctx, e.PipelineConfigID, nil); return err }},
		{"EventList", func() error { _, err := s.EventList(rctx, nil); return err }},
		{"EventLastID", func() error { _, err := s.EventLastID(rctx); return err }},
		{"AuditList", func() error { _, err := s.AuditList(rctx, nil); return err }},
		// Every API request looks its credential up.
		{"CredentialFind", func() error {
			_, err := s.CredentialFind(rctx, store.CredentialToken, "no-such-hash", time.Now())
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}},
		{"CredentialList", func() error { _, err := s.CredentialList(rctx, store.CredentialToken, time.Now()); return err }},
	}
	for _, r := range reads {
		if err := r.read(); err != nil {
			t.Errorf("%s while a write transaction is open: %v", r.name, err)
		}
	}

	if err := finish(); err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if got := mustGet(t, s, "e-1"); got.Status != status.Succeeded {
		t.Errorf("ExecutionGet after commit: status %s, want %s", got.Status, status.Succeeded)
	}
}

// readWait bounds each read of ReadsBesideWriter: far more than a read
// takes, so that only a read waiting for the writer runs into it.
const readWait = 5 * time.Second

// roundJSON is the stage context SeeCommits writes in round i: a JSON
// string, which both stores read back byte for byte.
func roundJSON(i int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`"round %d"`, i))
}
