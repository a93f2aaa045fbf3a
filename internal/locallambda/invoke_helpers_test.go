package locallambda

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

const testRegion, testAccount = "us-east-1", "123456789012"

// The test function binary (testdata/functions/testfn), built once per test
// binary, or taken from the user's cache when its sources have not changed.
var testFn struct {
	once sync.Once
	dir  string
	err  error
}

// testFunctionDir returns a directory holding the test function as an
// executable "bootstrap", built with aws-lambda-go's lambda.Start.
func testFunctionDir(tb testing.TB) string {
	tb.Helper()
	testFn.once.Do(func() { testFn.dir, testFn.err = buildTestFunction() })
	if testFn.err != nil {
		tb.Fatal(testFn.err)
	}
	return testFn.dir
}

// buildTestFunction builds testfn into a directory named by the hash of its
// sources and the Go version, under the user cache directory, unless it is
// there already.
func buildTestFunction() (string, error) {
	src := filepath.Join("testdata", "functions", "testfn")
	h := sha256.New()
	io.WriteString(h, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	for _, name := range []string{"main.go", "go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sluice-locallambda-testfn", hex.EncodeToString(h.Sum(nil))[:16])
	if fi, err := os.Stat(filepath.Join(dir, "bootstrap")); err == nil && fi.Mode()&0o111 != 0 {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build next to the target and rename, so a concurrent test binary
	// never runs a half-written file. testfn is a module of its own (see
	// its go.mod).
	tmp := filepath.Join(dir, fmt.Sprintf("bootstrap.%d.tmp", os.Getpid()))
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the test function: %v\n%s", err, out)
	}
	return dir, os.Rename(tmp, filepath.Join(dir, "bootstrap"))
}

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

func (r *testResolver) ResolveInvoke(_ context.Context, name, qualifier string) (*InvokeTarget, error) {
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
	t := &InvokeTarget{State: f.state, InvokedARN: functionARN(fn)}
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

func newTestEnv(tb testing.TB, cfg InvokerConfig) *testEnv {
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
	iv := NewInvoker(cfg)
	srv := httptest.NewServer(invokeMux(iv))
	tb.Cleanup(func() {
		srv.Close()
		iv.Close()
	})
	return &testEnv{iv: iv, resolver: r, srv: srv, client: newLambdaClient(srv.URL, 1)}
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

func newLambdaClient(endpoint string, attempts int) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:           testRegion,
		BaseEndpoint:     aws.String(endpoint),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		RetryMaxAttempts: attempts,
	})
}

// spec is a FunctionSpec of the test function with the given handler.
func (te *testEnv) spec(tb testing.TB, name, handler string) *FunctionSpec {
	return te.resolver.spec(tb, name, handler)
}

func (r *testResolver) spec(tb testing.TB, name, handler string) *FunctionSpec {
	return r.add(FunctionSpec{
		Name: name, Runtime: "provided.al2023", Handler: handler,
		CodeDir: testFunctionDir(tb), CodeSha256: "test", Timeout: 10 * time.Second,
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

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, timeout time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// seeded returns a goroutine-safe Rand for InvokerConfig with a fixed seed.
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
