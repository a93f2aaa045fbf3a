package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/store"
)

// Retention deletes execution history that has aged out, so that the
// database does not grow without end. It is a chain of durable jobs, as
// cron triggers are (cron.go): the job of a tick is scheduled at the tick,
// a boundary of Retention.Interval, and is unique by its arguments, so
// however many servers share the database and however often they
// restart, each tick runs once, on one of them. When it runs it walks
// the applications that have executions and deletes each one's aged-out
// executions in batches of Retention.BatchSize, each batch a transaction
// of its own (store.Purger), so it never holds the database for long; it
// then schedules the next tick in the transaction that completes it. A
// run that has deleted maxRetentionBatches batches hands the rest to a
// job of the same tick due at once, so that no job runs long.
//
// What is deleted goes with everything that hangs off it: its stages,
// its events and the trigger deliveries it started. Events are not kept
// in a compacted form: an execution's record (its stages' statuses,
// times, contexts and outputs) is what the console and the API show once
// it has ended, and the events are kept exactly as long as it is. The
// audit log is not execution history, and retention leaves it alone.
//
// Never deleted, whatever the policy: an execution that has not ended
// (not started, running, paused), one that ended less than
// RetentionGrace ago (the job that follows an ended execution, to wake
// its parent or fire pipeline triggers, reads it), the child of an
// execution that has not ended (a pipeline stage waits for it) and the
// parent of one that has not.

// RetentionGrace is how long after it ended an execution is kept,
// whatever the retention policy says.
const RetentionGrace = time.Hour

// Defaults for Retention.
const (
	DefaultRetentionInterval  = time.Hour
	DefaultRetentionBatchSize = 500
	// maxRetentionBatches bounds the batches one run of the job deletes.
	maxRetentionBatches = 100
)

// RetentionPolicy says which executions of an application are kept. An
// execution is deleted when either limit says so (as Jenkins's build
// discarder does): it is not one of the newest Executions of its
// application, or it was created more than MaxAge ago. The zero value
// keeps everything.
type RetentionPolicy struct {
	// Executions is how many of the newest executions are kept; 0 sets
	// no limit by count.
	Executions int
	// MaxAge is how long an execution is kept after it was created; 0
	// sets no limit by age.
	MaxAge time.Duration
}

// keepsAll reports whether p deletes nothing.
func (p RetentionPolicy) keepsAll() bool { return p.Executions <= 0 && p.MaxAge <= 0 }

// Retention configures the retention job. The zero value keeps every
// execution and runs no job.
type Retention struct {
	// Default is the policy of applications Applications does not name.
	Default RetentionPolicy
	// Applications are policies by application name, each whole: a field
	// left zero sets no limit.
	Applications map[string]RetentionPolicy
	// Interval is how often the job runs (DefaultRetentionInterval).
	Interval time.Duration
	// BatchSize is how many executions one transaction deletes at most
	// (DefaultRetentionBatchSize).
	BatchSize int
}

// policy returns the policy of application.
func (r *Retention) policy(application string) RetentionPolicy {
	if p, ok := r.Applications[application]; ok {
		return p
	}
	return r.Default
}

// active reports whether any policy deletes anything.
func (r *Retention) active() bool {
	if !r.Default.keepsAll() {
		return true
	}
	for _, p := range r.Applications {
		if !p.keepsAll() {
			return true
		}
	}
	return false
}

// retentionArgs is the job of one tick of retention. Part counts the jobs
// that continue a tick's run after a previous one reached
// maxRetentionBatches.
type retentionArgs struct {
	Tick int64 `json:"tick"` // Unix seconds
	Part int   `json:"part,omitempty"`
}

func (retentionArgs) Kind() string { return "sluice.retention" }

type retentionWorker struct {
	river.WorkerDefaults[retentionArgs]
	e *Engine
}

// metricHistoryDeleted counts what retention deleted.
const metricHistoryDeleted = "sluice_history_deleted_total"

// newRetentionMetric registers the counter of what retention deleted.
func newRetentionMetric(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: metricHistoryDeleted,
		Help: "Records the retention job deleted, by application and record: executions, stages, events, deliveries (trigger deliveries).",
	}, []string{"application", "record"})
	return c, reg.Register(c)
}

func (w *retentionWorker) Work(ctx context.Context, job *river.Job[retentionArgs]) error {
	e := w.e
	r := e.retention
	purger, ok := e.store.(store.Purger)
	if !ok {
		e.log.Warn("retention: the store cannot delete executions; history is kept", "store", e.store.Dialect())
		return e.inTx(ctx, func(t *txn) error { return t.completeJob(job.JobRow) })
	}
	if !r.active() {
		// Retention was turned off since the tick was scheduled: the
		// chain ends, and starts again with a server that turns it on.
		return e.inTx(ctx, func(t *txn) error { return t.completeJob(job.JobRow) })
	}
	now := e.now().UTC()
	apps, err := purger.ExecutionApplications(ctx)
	if err != nil {
		return err
	}
	var (
		total   store.ExecutionPurgeResult
		batches int
		more    bool
	)
apps:
	for _, app := range apps {
		p := r.policy(app)
		if p.keepsAll() {
			continue
		}
		params := &store.ExecutionPurgeParams{Application: app, Keep: p.Executions,
			EndedBefore: now.Add(-RetentionGrace), Limit: r.BatchSize}
		if p.MaxAge > 0 {
			params.CreatedBefore = now.Add(-p.MaxAge)
		}
		for {
			if batches == maxRetentionBatches {
				more = true
				break apps
			}
			res, err := purger.ExecutionPurge(ctx, params)
			if err != nil {
				return err // River runs the job again; what was deleted stays deleted
			}
			batches++
			total.Executions += res.Executions
			total.Stages += res.Stages
			total.Events += res.Events
			total.Deliveries += res.Deliveries
			if e.deleted != nil && res.Executions > 0 {
				e.deleted.WithLabelValues(app, "executions").Add(float64(res.Executions))
				e.deleted.WithLabelValues(app, "stages").Add(float64(res.Stages))
				e.deleted.WithLabelValues(app, "events").Add(float64(res.Events))
				e.deleted.WithLabelValues(app, "deliveries").Add(float64(res.Deliveries))
			}
			if res.Executions < int64(r.BatchSize) {
				break
			}
		}
	}
	level := e.log.Debug
	if total.Executions > 0 {
		level = e.log.Info
	}
	level("retention", "tick", time.Unix(job.Args.Tick, 0).UTC(), "part", job.Args.Part,
		"executions", total.Executions, "stages", total.Stages, "events", total.Events,
		"deliveries", total.Deliveries, "batches", batches, "more", more)
	return e.inTx(ctx, func(t *txn) error {
		if more {
			next := job.Args
			next.Part++
			if err := t.insertJob(next, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}); err != nil {
				return err
			}
		} else if err := t.scheduleRetention(); err != nil {
			return err
		}
		return t.completeJob(job.JobRow)
	})
}

// scheduleRetention inserts the job of the first tick after t.now, unless
// it is already there.
func (t *txn) scheduleRetention() error {
	interval := t.e.retention.Interval
	next := t.now.Truncate(interval).Add(interval)
	return t.insertJob(retentionArgs{Tick: next.Unix()}, &river.InsertOpts{
		ScheduledAt: next,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	})
}

// startRetention schedules the next tick at start, when a policy deletes
// anything: a chain that ended is restarted, one already scheduled is left
// as it is.
func (e *Engine) startRetention(ctx context.Context) error {
	if !e.retention.active() {
		return nil
	}
	return e.inTx(ctx, func(t *txn) error { return t.scheduleRetention() })
}
