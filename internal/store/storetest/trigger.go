package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

var triggerTests = []test{
	{"SyncListAndFire", testTriggerSyncListAndFire},
	{"DeliveryOnce", testTriggerDeliveryOnce},
}

func testTriggerSyncListAndFire(t *testing.T, s store.Store) {
	ctx := t.Context()
	hook := &store.Trigger{Key: "hook", Position: 0, Type: "webhook", Source: "ci", Enabled: true, Application: "app", PipelineName: "p"}
	cron := &store.Trigger{Key: "#1", Position: 1, Type: "cron", Enabled: false, Application: "app", PipelineName: "p"}
	if err := s.TriggerSync(ctx, "pid", []*store.Trigger{hook, cron}); err != nil {
		t.Fatal(err)
	}
	other := &store.Trigger{Key: "#0", Type: "webhook", Source: "ci", Enabled: true, Application: "app", PipelineName: "q"}
	if err := s.TriggerSync(ctx, "qid", []*store.Trigger{other}); err != nil {
		t.Fatal(err)
	}
	got, err := s.TriggerList(ctx, &store.TriggerListParams{Type: "webhook", Source: "ci", EnabledOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].PipelineID != "pid" || got[1].PipelineID != "qid" {
		t.Fatalf("TriggerList(webhook ci) = %+v, want the triggers of pid and qid", got)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := s.TriggerFired(ctx, &store.TriggerFiring{PipelineID: "pid", Key: "hook", At: at, ExecutionID: "e1", Outcome: "started"}); err != nil {
		t.Fatal(err)
	}
	if err := s.TriggerFired(ctx, &store.TriggerFiring{PipelineID: "pid", Key: "gone", At: at}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TriggerFired(unknown key) = %v, want ErrNotFound", err)
	}
	// A save that keeps "hook", disables it and drops the cron trigger
	// keeps its last firing.
	hook.Enabled = false
	if err := s.TriggerSync(ctx, "pid", []*store.Trigger{hook}); err != nil {
		t.Fatal(err)
	}
	got, err = s.TriggerList(ctx, &store.TriggerListParams{PipelineID: "pid"})
	if err != nil {
		t.Fatal(err)
	}
	want := []*store.Trigger{{PipelineID: "pid", Key: "hook", Type: "webhook", Source: "ci", Application: "app", PipelineName: "p",
		LastFiredAt: &at, LastExecutionID: "e1", LastOutcome: "started"}}
	check(t, "TriggerList after a second sync", got, want)
	if err := s.TriggerSync(ctx, "pid", nil); err != nil {
		t.Fatal(err)
	}
	if got, err = s.TriggerList(ctx, &store.TriggerListParams{PipelineID: "pid"}); err != nil || len(got) != 0 {
		t.Errorf("TriggerList after syncing none = %+v, %v; want none", got, err)
	}
}

func testTriggerDeliveryOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := &store.TriggerDelivery{PipelineID: "pid", Key: "hook", DeliveryID: "d-1", ExecutionID: "e1"}
	if err := s.TriggerDeliveryInsert(ctx, d); err != nil {
		t.Fatal(err)
	}
	// The replay fails inside a transaction without failing it: the
	// caller rolls back on its own terms.
	err := s.InTx(ctx, func(tx store.Tx) error {
		err := tx.TriggerDeliveryInsert(ctx, &store.TriggerDelivery{PipelineID: "pid", Key: "hook", DeliveryID: "d-1", ExecutionID: "e2"})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("replayed TriggerDeliveryInsert = %v, want ErrConflict", err)
		}
		return tx.TriggerDeliveryInsert(ctx, &store.TriggerDelivery{PipelineID: "pid", Key: "other", DeliveryID: "d-1", ExecutionID: "e3"})
	})
	if err != nil {
		t.Errorf("the same delivery for another trigger: %v, want it recorded", err)
	}
}
