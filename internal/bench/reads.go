package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
)

// SlowExpression is the slowest expression the fuzzing of package expr
// found (docs/benchmarks.md): it runs into the 100 ms time limit.
const SlowExpression = `count(1..1000, 'a' matches repeat('(?i:[\pLa-z])', 16) + #)`

// SlowStageCase is one configuration ReadsDuringSlowStage measures.
type SlowStageCase struct {
	// Name is "<probe>/<where>/<pool>", e.g. "health/stage-start/read-pool".
	Name string
	// Worst holds, for each round, the longest a probe took while that
	// round's execution ran.
	Worst []time.Duration
	// Probes holds every probe's time, of all rounds.
	Probes []time.Duration
}

// ReadsDuringSlowStage measures how long SQLite reads and writes wait while
// a stage evaluates SlowExpression. It opens two SQLite stores in dir, one
// without a pool for reads (sqlite.WithReadConns(0): one connection, as
// before issue 10) and one with, each with an engine, and serves api's
// handler for each (the caller passes httpapi's, which this package may not
// import: internal/importrules). Then, in each of `rounds` rounds, it takes
// every case in turn, so the cases interleave: it runs one execution of a
// one-stage pipeline while a goroutine probes back to back — GET /health,
// or a one-row write transaction on the store — and records each probe.
//
// The stage evaluates the expression either when it starts
// ("stage-start": a field of a wait stage, evaluated inside the transaction
// that starts the stage) or in its task ("evaluateVariables", run with no
// transaction open); "none" is a wait stage with no expression, for
// comparison.
func ReadsDuringSlowStage(ctx context.Context, dir string, rounds int, api func(store.Store) http.Handler) ([]*SlowStageCase, error) {
	type target struct {
		runner *runner
		api    *httptest.Server
		pipes  map[string]*store.Pipeline
	}
	open := func(name string, opts ...sqlite.Option) (*target, func(), error) {
		st, err := sqlite.Open(ctx, filepath.Join(dir, name+".db"), opts...)
		if err != nil {
			return nil, nil, err
		}
		e, err := engine.New(ctx, engine.Config{Store: st, Stages: stage.NewRegistry(wait.Type{}, variables.Type{})})
		if err == nil {
			err = e.Start(ctx)
		}
		if err != nil {
			st.Close()
			return nil, nil, err
		}
		t := &target{runner: &runner{engine: e, store: st}, pipes: map[string]*store.Pipeline{}}
		t.api = httptest.NewServer(api(st))
		closeAll := func() { t.api.Close(); t.runner.stop(); st.Close() }
		for where, doc := range map[string]string{
			"none":              `{"application":"bench","name":"none","stages":[{"refId":"1","type":"wait","name":"quick","waitTime":0}]}`,
			"stage-start":       fmt.Sprintf(`{"application":"bench","name":"start","stages":[{"refId":"1","type":"wait","name":"slow","waitTime":0,"slowField":"${%s}"}]}`, jsonEscape(SlowExpression)),
			"evaluateVariables": fmt.Sprintf(`{"application":"bench","name":"vars","stages":[{"refId":"1","type":"evaluateVariables","name":"slow","variables":[{"key":"x","value":"${%s}"}]}]}`, jsonEscape(SlowExpression)),
		} {
			p, err := t.runner.save(ctx, doc)
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("save %s pipeline: %w", where, err)
			}
			t.pipes[where] = p
		}
		return t, closeAll, nil
	}
	single, closeSingle, err := open("single", sqlite.WithReadConns(0))
	if err != nil {
		return nil, err
	}
	defer closeSingle()
	pooled, closePooled, err := open("pooled")
	if err != nil {
		return nil, err
	}
	defer closePooled()

	type config struct {
		c     *SlowStageCase
		t     *target
		where string
		probe func(context.Context, *target) error
	}
	health := func(ctx context.Context, t *target) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.api.URL+"/api/v1/health", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /health: %s", resp.Status)
		}
		return nil
	}
	write := func(ctx context.Context, t *target) error {
		return t.runner.store.InTx(ctx, func(tx store.Tx) error {
			return tx.AuditInsert(ctx, &store.AuditEntry{User: "bench", Action: "probe"})
		})
	}
	var configs []config
	for _, probe := range []struct {
		name string
		fn   func(context.Context, *target) error
	}{{"health", health}, {"write", write}} {
		for _, where := range []string{"none", "stage-start", "evaluateVariables"} {
			for _, pool := range []struct {
				name string
				t    *target
			}{{"one-connection", single}, {"read-pool", pooled}} {
				name := probe.name + "/" + where + "/" + pool.name
				configs = append(configs, config{c: &SlowStageCase{Name: name}, t: pool.t, where: where, probe: probe.fn})
			}
		}
	}

	for range rounds {
		for _, cfg := range configs {
			probes, err := probeDuring(ctx, func(ctx context.Context) error { return cfg.probe(ctx, cfg.t) }, func() error {
				_, err := cfg.t.runner.run(ctx, cfg.t.pipes[cfg.where], 1)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", cfg.c.Name, err)
			}
			cfg.c.Worst = append(cfg.c.Worst, slices.Max(probes))
			cfg.c.Probes = append(cfg.c.Probes, probes...)
		}
	}
	cases := make([]*SlowStageCase, len(configs))
	for i, cfg := range configs {
		cases[i] = cfg.c
	}
	return cases, nil
}

// probeDuring runs probe back to back while run runs, and returns how long
// each took; at least one runs. The probe that is running when run returns
// is waited for and counted.
func probeDuring(ctx context.Context, probe func(context.Context) error, run func() error) ([]time.Duration, error) {
	stop := make(chan struct{})
	var (
		wg       sync.WaitGroup
		probes   []time.Duration
		probeErr error
	)
	wg.Go(func() {
		for {
			begin := time.Now()
			if err := probe(ctx); err != nil {
				probeErr = err
				return
			}
			probes = append(probes, time.Since(begin))
			select {
			case <-stop:
				return
			default:
			}
		}
	})
	err := run()
	close(stop)
	wg.Wait()
	if err == nil {
		err = probeErr
	}
	return probes, err
}

// jsonEscape returns s escaped for the inside of a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
