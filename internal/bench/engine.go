// Package bench measures Sluice's headline figures — stage transition
// latency, engine throughput, server memory, reads beside a slow stage —
// in code that `go test -bench` and `sluice bench` run, so the figures in
// docs/benchmarks.md come from one implementation. It must not be imported
// by product code other than the CLI's bench command.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// stamp is a stage type that records when its task starts running.
type stamp struct {
	mu      sync.Mutex
	started map[string]time.Time
}

func (*stamp) Name() string                               { return "benchStamp" }
func (*stamp) Validate(map[string]any) []stage.FieldError { return nil }
func (*stamp) Tasks(map[string]any) []string              { return []string{"stamp"} }

func (s *stamp) Run(_ context.Context, t *stage.Task) (stage.Result, error) {
	now := time.Now()
	s.mu.Lock()
	s.started[t.StageID] = now
	s.mu.Unlock()
	return stage.Result{Status: status.Succeeded}, nil
}

// Transitions runs `executions` executions of a linear pipeline of `stages`
// stages one after another and returns, for every stage after the first,
// the time from the previous stage's completion (its end time, set in the
// transaction that completes it) to its own task starting to run.
func Transitions(ctx context.Context, st store.Store, executions, stages int) ([]time.Duration, error) {
	s := &stamp{started: map[string]time.Time{}}
	r, err := start(ctx, st, s)
	if err != nil {
		return nil, err
	}
	defer r.stop()
	p, err := r.save(ctx, linear("transitions", s.Name(), stages))
	if err != nil {
		return nil, err
	}
	var gaps []time.Duration
	for range executions {
		exec, err := r.run(ctx, p, 1)
		if err != nil {
			return nil, err
		}
		x, err := st.ExecutionGet(ctx, exec[0])
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		for i := 1; i < len(x.Stages); i++ {
			gaps = append(gaps, s.started[x.Stages[i].ID].Sub(*x.Stages[i-1].EndTime))
		}
		s.mu.Unlock()
	}
	return gaps, nil
}

// Throughput triggers `executions` executions of a linear pipeline of
// `stages` wait-0 stages at once and returns the time until all succeeded.
// The engine counts them for its metrics, as a server's does; metrics
// false turns that off, to measure what it costs.
//
// It learns that they ended by asking the store every few milliseconds
// whether one is still to end, as bare River's chains count themselves in
// memory (BareRiver), rather than by following every event as run does:
// a follower reads each stage's four events back, which cost the engine's
// side a tenth of its CPU on Postgres (docs/benchmarks.md). What following
// costs is BenchmarkSubscribers's to measure.
func Throughput(ctx context.Context, st store.Store, executions, stages int, metrics bool) (time.Duration, error) {
	r, err := startWith(ctx, st, metrics)
	if err != nil {
		return 0, err
	}
	defer r.stop()
	p, err := r.save(ctx, linear("throughput", "wait", stages))
	if err != nil {
		return 0, err
	}
	begin := time.Now()
	for range executions {
		if _, err := r.engine.Trigger(ctx, &engine.TriggerParams{Pipeline: p, User: "bench"}); err != nil {
			return 0, err
		}
	}
	if err := r.awaitEnd(ctx, p); err != nil {
		return 0, err
	}
	return time.Since(begin), nil
}

// awaitEnd polls the store until no execution of p is still to end, and
// fails if one ended other than SUCCEEDED.
func (r *runner) awaitEnd(ctx context.Context, p *store.Pipeline) error {
	var running, badly []status.Status
	for _, s := range status.All() {
		switch {
		case !s.Complete():
			running = append(running, s)
		case s != status.Succeeded:
			badly = append(badly, s)
		}
	}
	first := func(statuses []status.Status) (*store.Execution, error) {
		page, err := r.store.ExecutionList(ctx, &store.ExecutionListParams{
			Application: p.Application, PipelineName: p.Name, Statuses: statuses, Limit: 1,
		})
		if err != nil || len(page.Executions) == 0 {
			return nil, err
		}
		return page.Executions[0], nil
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		x, err := first(running)
		if err != nil {
			return err
		}
		if x == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("execution %s is still %s after 10 minutes", x.ID, x.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	x, err := first(badly)
	if err != nil {
		return err
	}
	if x != nil {
		return fmt.Errorf("execution %s ended %s", x.ID, x.Status)
	}
	return nil
}

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of d, sorting d.
func Percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))]
}

type runner struct {
	engine *engine.Engine
	store  store.Store
}

// start starts an engine with the wait stage type and extra, with its
// metrics on as a server runs it.
func start(ctx context.Context, st store.Store, extra ...stage.Type) (*runner, error) {
	return startWith(ctx, st, true, extra...)
}

func startWith(ctx context.Context, st store.Store, metrics bool, extra ...stage.Type) (*runner, error) {
	types := append([]stage.Type{wait.Type{}}, extra...)
	cfg := engine.Config{Store: st, Stages: stage.NewRegistry(types...)}
	if metrics {
		cfg.Metrics = prometheus.NewRegistry()
	}
	e, err := engine.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := e.Start(ctx); err != nil {
		return nil, err
	}
	return &runner{engine: e, store: st}, nil
}

func (r *runner) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r.engine.Stop(ctx)
}

func (r *runner) save(ctx context.Context, doc string) (*store.Pipeline, error) {
	p, err := pipeline.Parse([]byte(doc))
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return r.store.PipelineSave(ctx, &store.PipelineSaveParams{Application: p.Application, Name: p.Name, Document: raw, User: "bench"})
}

// run triggers n executions and waits until all of them succeed.
func (r *runner) run(ctx context.Context, p *store.Pipeline, n int) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	from := lastEventID(ctx, r.store)
	sub := r.engine.Subscribe(ctx, "", from)
	pending := map[string]bool{}
	ids := make([]string, n)
	for i := range ids {
		exec, err := r.engine.Trigger(ctx, &engine.TriggerParams{Pipeline: p, User: "bench"})
		if err != nil {
			return nil, err
		}
		ids[i] = exec.ID
		pending[exec.ID] = true
	}
	timeout := time.NewTimer(10 * time.Minute)
	defer timeout.Stop()
	for len(pending) > 0 {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				if !errors.Is(sub.Err(), engine.ErrSubscriberTooSlow) {
					return nil, fmt.Errorf("follow the executions' events: %w", sub.Err())
				}
				// Triggering took long enough for the events to overflow
				// the subscription. Read them again from the start: only
				// each execution's last status matters here.
				sub = r.engine.Subscribe(ctx, "", from)
				continue
			}
			if apitype.EventType(ev.Type) != apitype.EventExecutionStatus || !pending[ev.ExecutionID] {
				continue
			}
			var data apitype.ExecutionStatusData
			json.Unmarshal(ev.Data, &data)
			if data.Status == status.Succeeded {
				delete(pending, ev.ExecutionID)
			} else if data.Status.Complete() {
				return nil, fmt.Errorf("execution %s ended %s", ev.ExecutionID, data.Status)
			}
		case <-timeout.C:
			return nil, fmt.Errorf("%d of %d executions did not finish in 10 minutes", len(pending), n)
		}
	}
	return ids, nil
}

func lastEventID(ctx context.Context, st store.Store) int64 {
	var last int64
	for {
		evs, err := st.EventList(ctx, &store.EventListParams{AfterID: last, Limit: 1000})
		if err != nil || len(evs) == 0 {
			return last
		}
		last = evs[len(evs)-1].ID
	}
}

// linear is a pipeline document of n stages of one type, each requiring
// the one before.
func linear(name, stageType string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"application":"bench","name":%q,"limitConcurrent":false,"stages":[`, name)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteString(",")
		}
		req := "[]"
		if i > 1 {
			req = fmt.Sprintf(`["%d"]`, i-1)
		}
		fmt.Fprintf(&b, `{"refId":"%d","type":%q,"name":"s%d","waitTime":0,"requisiteStageRefIds":%s}`, i, stageType, i, req)
	}
	b.WriteString("]}")
	return b.String()
}
