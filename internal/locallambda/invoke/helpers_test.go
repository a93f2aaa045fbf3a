package invoke

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

const testRegion, testAccount = "us-east-1", "123456789012"

// testResolver is a small, real Resolver: functions with versions, aliases
// (with optional weighted routing) and a state.
type testResolver struct {
	mu  sync.Mutex
	fns map[string]*testFunction
}

type testFunction struct {
	state    string
	versions map[string]*FunctionSpec
	aliases  map[string]testAlias
}

type testAlias struct {
	version, additional string
	weight              float64
}

func newTestResolver() *testResolver { return &testResolver{fns: map[string]*testFunction{}} }

func functionARN(name string) string {
	return "arn:aws:lambda:" + testRegion + ":" + testAccount + ":function:" + name
}

// add registers spec (Name and Version set; ARN filled in) and returns it.
func (r *testResolver) add(spec FunctionSpec) *FunctionSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	if spec.Version == "" {
		spec.Version = "$LATEST"
	}
	spec.ARN = functionARN(spec.Name)
	f := r.fns[spec.Name]
	if f == nil {
		f = &testFunction{state: "Active", versions: map[string]*FunctionSpec{}, aliases: map[string]testAlias{}}
		r.fns[spec.Name] = f
	}
	f.versions[spec.Version] = &spec
	return &spec
}

func (r *testResolver) alias(fn, name, version, additional string, weight float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fns[fn].aliases[name] = testAlias{version, additional, weight}
}

func (r *testResolver) setState(fn, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fns[fn].state = state
}

func (r *testResolver) ResolveInvoke(_ context.Context, name, qualifier string) (*Target, error) {
	fn := functionNameOf(name)
	// "name:qualifier" and ARN forms carry the qualifier in the name.
	if i := strings.Index(name, ":function:"); i >= 0 {
		if _, q, ok := strings.Cut(name[i+len(":function:"):], ":"); ok {
			qualifier = q
		}
	} else if n, q, ok := strings.Cut(name, ":"); ok {
		fn, qualifier = n, q
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.fns[fn]
	if f == nil {
		return nil, awserr.ResourceNotFound("Function not found: %s", functionARN(fn))
	}
	t := &Target{State: f.state, InvokedARN: functionARN(fn)}
	if qualifier != "" {
		t.InvokedARN += ":" + qualifier
	}
	if qualifier == "" {
		qualifier = "$LATEST"
	}
	if a, ok := f.aliases[qualifier]; ok {
		t.Primary = f.versions[a.version]
		if a.additional != "" {
			t.Additional, t.AdditionalWeight = f.versions[a.additional], a.weight
		}
		return t, nil
	}
	if t.Primary = f.versions[qualifier]; t.Primary == nil {
		return nil, awserr.ResourceNotFound("Function not found: %s", t.InvokedARN)
	}
	return t, nil
}

// testEnv is an Invoker behind an HTTP server that routes Invoke to it, and
// an aws-sdk-go-v2 Lambda client pointed at that server.
type testEnv struct {
	iv       *Invoker
	resolver *testResolver
	srv      *httptest.Server
	client   *lambda.Client
}

func newTestEnv(tb testing.TB, cfg Config) *testEnv {
	tb.Helper()
	r, ok := cfg.Resolver.(*testResolver)
	if !ok {
		r = newTestResolver()
	}
	cfg.Resolver = r
	if cfg.DataDir == "" {
		cfg.DataDir = tb.TempDir()
	}
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	iv := New(cfg)
	srv := httptest.NewServer(invokeMux(iv))
	tb.Cleanup(func() {
		srv.Close()
		iv.Close()
	})
	return &testEnv{iv: iv, resolver: r, srv: srv, client: lambdatest.LambdaClient(srv.URL, 1)}
}

// invokeMux routes the Invoke operation to iv, as the control plane's
// server does.
func invokeMux(iv *Invoker) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", func(w http.ResponseWriter, r *http.Request) {
		iv.ServeInvoke(w, r, r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	})
	return mux
}

// spec is a FunctionSpec of the test function with the given handler.
func (te *testEnv) spec(tb testing.TB, name, handler string) *FunctionSpec {
	return te.resolver.spec(tb, name, handler)
}

func (r *testResolver) spec(tb testing.TB, name, handler string) *FunctionSpec {
	return r.add(FunctionSpec{
		Name: name, Runtime: "provided.al2023", Handler: handler,
		CodeDir: lambdatest.FunctionDir(tb), CodeSha256: "test", Timeout: 10 * time.Second,
	})
}

// invoke calls Invoke through the SDK and fails the test on a transport or
// API error.
func (te *testEnv) invoke(tb testing.TB, in *lambda.InvokeInput) *lambda.InvokeOutput {
	tb.Helper()
	out, err := te.client.Invoke(context.Background(), in)
	if err != nil {
		tb.Fatalf("Invoke(%s): %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

// seeded returns a goroutine-safe Rand for Config with a fixed seed.
func seeded(seed uint64) func() float64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Float64()
	}
}

// processAlive reports whether pid is a live (not zombie) process.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	_ = g.Write(&m)
	return m.GetGauge().GetValue()
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
