package httpapi_test

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/store"
)

// TestReadsWhileATransactionRuns holds a write transaction open on the
// SQLite store, as a stage evaluating a slow expression does, and calls
// /health and two list routes: they answer at once. When the store had one
// connection, /health waited for it until its ping timed out and answered
// 503, and the lists waited until the client gave up.
func TestReadsWhileATransactionRuns(t *testing.T) {
	t.Parallel()
	c, b := setup(t, nil)
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- b.store.InTx(context.Background(), func(tx store.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	// A bound so that reads that wait for the writer fail the test rather
	// than hang it: far longer than a read takes.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	h, err := c.Health(ctx)
	switch {
	case err != nil:
		t.Errorf("health: %v", err)
	case h.Status != "ok":
		t.Errorf("health status = %q, want ok", h.Status)
	}
	if _, err := c.ListPipelines(ctx, ""); err != nil {
		t.Errorf("list pipelines: %v", err)
	}
	if _, err := c.ListExecutions(ctx, apiclient.ListOptions{}); err != nil {
		t.Errorf("list executions: %v", err)
	}

	close(release)
	if err := <-done; err != nil {
		t.Fatalf("InTx: %v", err)
	}
}
