package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/trigger"
)

// Cron triggers are a chain of durable jobs, one per trigger: the job for
// a tick is scheduled at the tick, and when it runs it starts the
// execution, records the firing and schedules the job of the next tick in
// one transaction, the one that completes it. Each job is unique by its
// arguments (pipeline, trigger, expression, time zone and tick), so that
// of two servers, or of a save and a restart, that schedule the same tick
// only one job is inserted: a tick starts at most one execution, on any
// number of servers. A tick is lost neither by a crash (the job stays and
// is rescued) nor by a restart that spans it (the job is overdue and runs
// when a server is back). A tick that runs later than
// trigger.MisfireWindow is recorded as missed and starts nothing; every
// tick within the window fires once, and the chain skips ticks older than
// the window.

// cronTickArgs is the job of one tick of one cron trigger.
type cronTickArgs struct {
	PipelineID string `json:"pipelineId"`
	Key        string `json:"key"`
	Expression string `json:"expression"`
	TimeZone   string `json:"timeZone"`
	Tick       int64  `json:"tick"` // Unix seconds
}

func (cronTickArgs) Kind() string { return "sluice.cron_tick" }

// OutcomeMissed begins the last outcome of a cron tick that ran later
// than trigger.MisfireWindow.
const OutcomeMissed = "missed"

type cronTickWorker struct {
	river.WorkerDefaults[cronTickArgs]
	e *Engine
}

func (w *cronTickWorker) Work(ctx context.Context, job *river.Job[cronTickArgs]) error {
	a := job.Args
	return w.e.inTx(ctx, func(t *txn) error {
		p, fields, err := t.currentTrigger(a.PipelineID, a.Key)
		if err != nil {
			return err
		}
		if fields == nil || !trigger.Enabled(fields) {
			return t.completeJob(job.JobRow) // deleted, changed or disabled: the chain ends
		}
		sched, err := trigger.CronSchedule(a.Key, fields, w.e.cronTZ)
		if err != nil || sched.Expression != a.Expression || sched.TimeZone != a.TimeZone {
			// Saved with another schedule, whose own chain runs.
			return t.completeJob(job.JobRow)
		}
		tick := time.Unix(a.Tick, 0).UTC()
		late := t.now.Sub(tick)
		if late <= trigger.MisfireWindow {
			extra := map[string]any{}
			for k, v := range fields {
				if k != "type" && k != "parameters" && k != "user" {
					extra[k] = v
				}
			}
			extra["eventId"] = fmt.Sprintf("%s/%s/%d", a.PipelineID, a.Key, a.Tick)
			_, err := t.createExecution(&TriggerParams{Pipeline: p, Type: trigger.TypeCron, User: "cron", Extra: extra, TriggerKey: a.Key})
			var ve *pipeline.ValidationError
			switch {
			case errors.As(err, &ve):
				// Required parameters without defaults: the tick cannot
				// start the pipeline; say so on the trigger.
				if err := t.fired(p, a.Key, "not started: "+ve.Error(), nil); err != nil {
					return err
				}
			case err != nil:
				return err
			}
		} else {
			outcome := fmt.Sprintf("%s: the tick at %s ran %s late, more than the misfire window of %s; it started nothing",
				OutcomeMissed, tick.Format(time.RFC3339), late.Round(time.Second), trigger.MisfireWindow)
			if err := t.fired(p, a.Key, outcome, map[string]any{"tick": tick}); err != nil {
				return err
			}
		}
		// The next tick follows this one, so that a server that is
		// behind fires every tick in the misfire window once; ticks
		// older than the window are skipped.
		from := tick
		if next, err := sched.Next(tick); err == nil && t.now.Sub(next) > trigger.MisfireWindow {
			from = t.now
		}
		if err := t.scheduleCron(a.PipelineID, a.Key, sched, from); err != nil {
			return err
		}
		return t.completeJob(job.JobRow)
	})
}

// fired records a firing that started nothing, with an audit entry.
func (t *txn) fired(p *store.Pipeline, key, outcome string, details map[string]any) error {
	err := t.tx.TriggerFired(t.ctx, &store.TriggerFiring{PipelineID: p.ID, Key: key, At: t.now, Outcome: outcome})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	metric := "refused"
	if strings.HasPrefix(outcome, OutcomeMissed) {
		metric = OutcomeMissed
	}
	t.fire(p.Application, trigger.TypeCron, metric)
	if details == nil {
		details = map[string]any{}
	}
	details["trigger"], details["outcome"] = key, outcome
	return auditTrigger(t, p, "cron", "trigger.fire", details)
}

// auditTrigger writes an audit entry about a pipeline's trigger.
func auditTrigger(t *txn, p *store.Pipeline, user, action string, details map[string]any) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return err
	}
	return t.tx.AuditInsert(t.ctx, &store.AuditEntry{User: user, Source: auditSource(t.ctx), Action: action,
		Application: p.Application, Pipeline: p.Name, Details: raw, CreatedAt: t.now})
}

// currentTrigger returns the pipeline in force with the given ID and the
// fields of its trigger with the given key; nil fields when the pipeline
// is deleted or has no such trigger.
func (t *txn) currentTrigger(pipelineID, key string) (*store.Pipeline, map[string]any, error) {
	p, err := t.tx.PipelineGetByID(t.ctx, pipelineID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if p.Deleted {
		return p, nil, nil
	}
	doc, err := pipeline.Parse(p.Document)
	if err != nil {
		return p, nil, nil
	}
	for i, tr := range doc.Triggers {
		if trigger.Key(i, tr.Fields) == key {
			return p, tr.Fields, nil
		}
	}
	return p, nil, nil
}

// scheduleCron inserts the job of the first tick after from. The job is
// unique by its arguments, so scheduling a tick that is already scheduled
// (or was run) inserts nothing.
func (t *txn) scheduleCron(pipelineID, key string, sched *trigger.Schedule, from time.Time) error {
	next, err := sched.Next(from)
	if errors.Is(err, trigger.ErrNoMoreTicks) {
		return nil
	}
	if err != nil {
		return err
	}
	return t.insertJob(cronTickArgs{PipelineID: pipelineID, Key: key, Expression: sched.Expression,
		TimeZone: sched.TimeZone, Tick: next.Unix()}, &river.InsertOpts{
		ScheduledAt: next,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	})
}

// SyncTriggersTx indexes the triggers of a pipeline revision just saved
// in tx (nil saved, or a deleted one, unindexes pipelineID's) and
// schedules the next tick of each enabled cron trigger, in the caller's
// transaction: the save and the schedule commit together.
func (e *Engine) SyncTriggersTx(ctx context.Context, tx store.Tx, pipelineID string, saved *store.Pipeline) error {
	t := &txn{e: e, tx: tx, ctx: ctx, now: e.now().UTC()}
	crons, err := IndexTriggers(ctx, tx, pipelineID, saved)
	if err != nil {
		return err
	}
	for key, fields := range crons {
		sched, err := trigger.CronSchedule(key, fields, e.cronTZ)
		if err != nil {
			return fmt.Errorf("trigger %s: %w", key, err)
		}
		if err := t.scheduleCron(pipelineID, key, sched, t.now); err != nil {
			return err
		}
	}
	if t.jobs > 0 {
		// The commit is the caller's; waking the workers early costs a
		// poll at most.
		e.q.Committed()
	}
	return nil
}

// IndexTriggers writes the trigger index of pipelineID from saved (nil or
// deleted: no triggers) and returns the enabled cron triggers by key. It
// schedules nothing: SyncTriggersTx does, for a server with an engine.
func IndexTriggers(ctx context.Context, tx store.Tx, pipelineID string, saved *store.Pipeline) (map[string]map[string]any, error) {
	var rows []*store.Trigger
	crons := map[string]map[string]any{}
	if saved != nil && !saved.Deleted {
		doc, err := pipeline.Parse(saved.Document)
		if err != nil {
			return nil, fmt.Errorf("pipeline %s/%s: %w", saved.Application, saved.Name, err)
		}
		for i, tr := range doc.Triggers {
			key := trigger.Key(i, tr.Fields)
			rows = append(rows, &store.Trigger{Key: key, Position: i, Type: tr.Type, Source: trigger.Source(tr.Fields),
				Enabled: trigger.Enabled(tr.Fields), Application: saved.Application, PipelineName: saved.Name})
			if tr.Type == trigger.TypeCron && trigger.Enabled(tr.Fields) {
				crons[key] = tr.Fields
			}
		}
	}
	if err := tx.TriggerSync(ctx, pipelineID, rows); err != nil {
		return nil, err
	}
	return crons, nil
}

// indexAllTriggers writes the trigger index of every pipeline, at start:
// pipelines saved by a version of Sluice before the index, or while an
// index rule differed, get their triggers indexed as a save would. The
// index keeps each trigger's last firing (TriggerSync updates in place).
func (e *Engine) indexAllTriggers(ctx context.Context) error {
	pipelines, err := e.store.PipelineList(ctx, &store.PipelineListParams{})
	if err != nil {
		return fmt.Errorf("list pipelines to index their triggers: %w", err)
	}
	for _, p := range pipelines {
		err := e.inTx(ctx, func(t *txn) error {
			_, err := IndexTriggers(ctx, t.tx, p.ID, p)
			return err
		})
		if err != nil {
			// A document this version cannot read keeps its old index
			// rows; the pipeline's save says what is wrong with it.
			e.log.Warn("triggers not indexed", "pipeline", p.Application+"/"+p.Name, "error", err)
		}
	}
	return nil
}

// scheduleAllCron schedules the next tick of every enabled cron trigger,
// at start: a chain that ended (its job discarded after failing, say) is
// restarted, and a chain already scheduled is left as it is.
func (e *Engine) scheduleAllCron(ctx context.Context) error {
	rows, err := e.store.TriggerList(ctx, &store.TriggerListParams{Type: trigger.TypeCron, EnabledOnly: true})
	if err != nil {
		return err
	}
	for _, row := range rows {
		err := e.inTx(ctx, func(t *txn) error {
			_, fields, err := t.currentTrigger(row.PipelineID, row.Key)
			if err != nil || fields == nil || !trigger.Enabled(fields) {
				return err
			}
			sched, err := trigger.CronSchedule(row.Key, fields, e.cronTZ)
			if err != nil {
				e.log.Warn("cron trigger not scheduled", "pipeline", row.Application+"/"+row.PipelineName, "trigger", row.Key, "error", err)
				return nil
			}
			return t.scheduleCron(row.PipelineID, row.Key, sched, t.now)
		})
		if err != nil {
			return fmt.Errorf("schedule cron trigger %s of %s/%s: %w", row.Key, row.Application, row.PipelineName, err)
		}
	}
	return nil
}
