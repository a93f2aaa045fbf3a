package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/wait"
)

// TestNodeIDIsExclusive starts two engines with one node ID on one
// Postgres database: the second fails to start, naming the node, until the
// first stops. (internal/e2e's TestCrashRecovery shows what the node ID is
// for: a killed server's jobs run again as soon as it restarts.)
func TestNodeIDIsExclusive(t *testing.T) {
	t.Parallel()
	st := postgresStore(t)
	ctx := context.Background()
	newEngine := func() *engine.Engine {
		e, err := engine.New(ctx, engine.Config{Store: st, Stages: stage.NewRegistry(wait.Type{}), NodeID: "node-a"})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	stop := func(e *engine.Engine) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}

	first := newEngine()
	if err := first.Start(ctx); err != nil {
		t.Fatalf("start the first engine: %v", err)
	}
	second := newEngine()
	err := second.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), `running as node "node-a"`) {
		stop(second)
		t.Fatalf("start a second engine as the same node: %v; want an error naming the node", err)
	}
	stop(first)
	if err := second.Start(ctx); err != nil {
		t.Fatalf("start the second engine once the first stopped: %v", err)
	}
	stop(second)
}
