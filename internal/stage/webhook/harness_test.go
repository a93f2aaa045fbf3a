package webhook_test

// The test harness: a real HTTP receiver (httptest) that records every
// request, and a real engine on SQLite or Postgres that runs a pipeline of
// one webhook stage.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/webhook"
	"github.com/sluice-cd/sluice/internal/store"
)

// request is one request the receiver got.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   string
}

// receiver is a local HTTP server whose handler a test writes, and which
// records what it was sent.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newReceiver(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.requests = append(rc.requests, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: string(body)})
		n := 0
		for _, q := range rc.requests {
			if q.Path == r.URL.Path {
				n++
			}
		}
		rc.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// got returns the requests to path, in order.
func (rc *receiver) got(path string) []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []request
	for _, q := range rc.requests {
		if q.Path == path {
			out = append(out, q)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// fast are options with short retry and poll intervals, longer than the
// engine waits out inside a job (50ms), so that every retry and poll is a
// snoozed job of its own, as with Orca's intervals.
func fast(allowed ...string) webhook.Options {
	return webhook.Options{AllowedHosts: allowed, CreateBackoff: 60 * time.Millisecond, MonitorBackoff: 60 * time.Millisecond}
}

type engineRun struct {
	e     *engine.Engine
	st    store.Store
	types *stage.Registry
	n     atomic.Int64
}

func startEngine(t *testing.T, st store.Store, opts webhook.Options) *engineRun {
	t.Helper()
	typ, err := webhook.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	reg := stage.NewRegistry(typ, variables.Type{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: reg, Logger: log, EventPollInterval: 50 * time.Millisecond})
	return &engineRun{e: e, st: st, types: reg}
}

// trigger validates and saves a pipeline of stages, and starts it with
// parameters.
func (r *engineRun) trigger(t *testing.T, params map[string]any, stages ...map[string]any) string {
	t.Helper()
	list := make([]any, len(stages))
	for i, s := range stages {
		list[i] = s
	}
	// Each execution is of a pipeline of its own, so none waits for
	// another (Spinnaker's limitConcurrent).
	name := fmt.Sprintf("hook-%d", r.n.Add(1))
	doc, err := json.Marshal(map[string]any{"application": "shop", "name": name, "stages": list,
		"parameterConfig": []any{map[string]any{"name": "build"}}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Parse(doc)
	if err != nil {
		t.Fatalf("parse pipeline: %v", err)
	}
	if err := p.Validate(pipeline.ValidateOptions{StageTypes: r.types}); err != nil {
		t.Fatalf("validate pipeline: %v", err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	saved, err := r.st.PipelineSave(ctx, &store.PipelineSaveParams{Application: p.Application, Name: p.Name, Document: raw, User: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := r.e.Trigger(ctx, &engine.TriggerParams{Pipeline: saved, User: "tester", Parameters: params})
	if err != nil {
		t.Fatalf("trigger: %v", err)
	}
	return exec.ID
}

// waitFor waits until cond holds for the execution.
func (r *engineRun) waitFor(t *testing.T, id, what string, cond func(*store.Execution) bool) *store.Execution {
	t.Helper()
	var exec *store.Execution
	sluicetest.WaitFor(t, what, 60*time.Second, func() bool {
		var err error
		exec, err = r.st.ExecutionGet(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return cond(exec)
	})
	return exec
}

func (r *engineRun) waitDone(t *testing.T, id string) *store.Execution {
	t.Helper()
	return r.waitFor(t, id, "the execution's end", func(e *store.Execution) bool { return e.Status.Complete() })
}

// stageContext is the context of the stage with refId.
func stageContext(t *testing.T, e *store.Execution, refID string) map[string]any {
	t.Helper()
	for _, s := range e.Stages {
		if s.RefID == refID {
			var m map[string]any
			if err := json.Unmarshal(s.Context, &m); err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
	t.Fatalf("no stage %s", refID)
	return nil
}

// hookStage is a webhook stage, refId "1", with fields.
func hookStage(fields map[string]any) map[string]any {
	s := map[string]any{"refId": "1", "name": "Hook", "type": "webhook"}
	for k, v := range fields {
		s[k] = v
	}
	return s
}

// path reads a dotted path of maps.
func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}
