package engine

import "github.com/sluice-cd/sluice/internal/store"

// WrapEventReads replaces the store the reader of the event log and
// catching-up subscribers read through with wrap's result, so that a test
// can count and interleave those reads. Call it before the first Subscribe.
func WrapEventReads(e *Engine, wrap func(store.Querier) store.Querier) {
	e.fanout.st = wrap(e.fanout.st)
}

// NotifyCommitted wakes the reader as a commit of this engine does, for
// tests that write events straight through the store.
func NotifyCommitted(e *Engine) { e.events.notify() }
