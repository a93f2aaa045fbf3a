package engine

import (
	"context"

	"github.com/sluice-cd/sluice/internal/store"
)

// WrapEventReads replaces the store the reader of the event log and
// catching-up subscribers read through with wrap's result, so that a test
// can count and interleave those reads. Call it before the first Subscribe.
func WrapEventReads(e *Engine, wrap func(store.Querier) store.Querier) {
	e.fanout.st = wrap(e.fanout.st)
}

// NotifyCommitted wakes the reader as a commit of this engine does, for
// tests that write events straight through the store.
func NotifyCommitted(e *Engine) { e.events.notify() }

// BeforeCommit makes f run at the end of every engine transaction that
// succeeded, just before its commit; completed says whether it completed a
// job. Call it before the engine starts.
func BeforeCommit(e *Engine, f func(ctx context.Context, tx store.Tx, completed bool) error) {
	e.beforeCommit = f
}

// RunStageKind is the kind of the job that runs a stage.
var RunStageKind = runStageArgs{}.Kind()
