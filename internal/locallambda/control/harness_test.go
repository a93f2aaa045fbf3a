package control

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
	"github.com/sluice-cd/sluice/internal/locallambda/restapi"
	"github.com/sluice-cd/sluice/internal/locallambda/s3"
)

// The control plane's tests talk to it over HTTP through aws-sdk-go-v2, as
// Sluice's stages do, with the real data plane and S3 store behind it:
// the local Lambda as Server assembles it, on an httptest server.

// ctlServer is a started control plane with SDK clients pointed at it.
type ctlServer struct {
	*Plane
	*lambdatest.Endpoint
	iv      *invoke.Invoker
	store   *s3.Store
	srv     *httptest.Server
	handler http.Handler
	dir     string

	closeOnce sync.Once
	closeErr  error
}

type ctlOption func(*Config)

// withGate holds every activation until the test releases it.
func withGate(g *lambdatest.ActivationGate) ctlOption {
	return func(c *Config) { c.BeforeActivation = g.Wait }
}

// newCtlServer starts a control plane on a fresh data directory and
// closes it when the test ends.
func newCtlServer(t testing.TB, opts ...ctlOption) *ctlServer {
	t.Helper()
	return openCtlServer(t, t.TempDir(), opts...)
}

// openCtlServer starts a control plane on dir, which may hold what an
// earlier one left.
func openCtlServer(t testing.TB, dir string, opts ...ctlOption) *ctlServer {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	store, err := s3.Open(s3.Config{Dir: filepath.Join(dir, "s3")})
	if err != nil {
		t.Fatalf("s3.Open: %v", err)
	}
	cfg := Config{DataDir: dir, Region: "us-east-1", AccountID: "000000000000", Logger: log, Clock: time.Now,
		ConcurrentExecutions: 1000, Objects: store, RequestMemory: 64 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	plane, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// Every write checks that it committed every record it changed.
	plane.st.verify = true
	t.Cleanup(func() {
		plane.st.mu.RLock()
		defer plane.st.mu.RUnlock()
		for _, e := range plane.st.verifyErrs {
			t.Errorf("a write changed %s without writing it to the database", e)
		}
	})
	iv := invoke.New(invoke.Config{Resolver: plane, Logger: log, DataDir: filepath.Join(dir, "invoker")})
	plane.Start(iv)
	cs := &ctlServer{Plane: plane, iv: iv, store: store, dir: dir}
	cs.handler = cs.endpoint()
	cs.srv = httptest.NewServer(cs.handler)
	cs.Endpoint = lambdatest.NewEndpoint(cs.srv.URL)
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

var apiVersion = regexp.MustCompile(`^20\d\d-\d\d-\d\d$`)

// endpoint serves what the local Lambda's Server does, but /metrics: the
// Lambda REST API, the code download and S3.
func (cs *ctlServer) endpoint() http.Handler {
	lambdaAPI := restapi.New(restapi.Config{Routes: cs.Routes(), NotFound: http.HandlerFunc(restapi.UnknownOperation)})
	own := restapi.New(restapi.Config{Routes: []restapi.Route{cs.CodeRoute()}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
		switch {
		case apiVersion.MatchString(first):
			lambdaAPI.ServeHTTP(w, r)
		case first == "_locallambda":
			own.ServeHTTP(w, r)
		default:
			cs.store.Handler().ServeHTTP(w, r)
		}
	})
}

// Close stops serving, then the control plane's background work, then the
// data plane, as Server.Close does.
func (cs *ctlServer) Close() error {
	cs.closeOnce.Do(func() {
		cs.srv.Close()
		cs.Plane.Close()
		cs.closeErr = cs.iv.Close()
	})
	return cs.closeErr
}
