// Package httpapi is Sluice's JSON API under /api/v1: pipelines, executions
// and their server-sent event streams, health, version and the OpenAPI
// document. It is the only door into a running Sluice (ARCHITECTURE.md).
//
// Handlers are func(w, r) error. They decode and check the request, call the
// store or the engine, and return an error for anything that goes wrong; one
// mapper (writeError) turns errors into a status and an apitype.ErrorBody:
//
//	*Error                      its own status, code, message and details
//	*pipeline.ValidationError   400 invalid_pipeline, every problem with its path
//	*http.MaxBytesError         413 request_too_large
//	store.ErrNotFound           404 not_found
//	engine.ErrConflict,
//	store.ErrConflict           409 conflict, with the engine's message
//	anything else               500 internal: logged with the request id,
//	                            the client sees only the id
//
// The API records what a user asks for and returns; the engine runs
// executions under its own context, never a request's. This package must
// not run stages or write executions itself.
//
// The single route table (routes.go) both registers the handlers and is
// checked against the embedded OpenAPI document (openapi.json) by a test;
// the tests' real requests and responses are checked against it too.
package httpapi

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/auth/oidc"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/store"
)

// Defaults for Config.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	// DefaultMaxDocumentBytes bounds a pipeline document in a request body.
	DefaultMaxDocumentBytes = 4 << 20
	// maxRequestBytes bounds every other request body.
	maxRequestBytes = 1 << 20
)

// RequestIDHeader is set on every response; the server log uses the same id.
const RequestIDHeader = "X-Request-Id"

// Engine is what the API needs from the execution engine; *engine.Engine
// implements it.
type Engine interface {
	Trigger(ctx context.Context, p *engine.TriggerParams) (*store.Execution, error)
	Cancel(ctx context.Context, executionID, user, reason string) error
	Pause(ctx context.Context, executionID, user string) error
	Resume(ctx context.Context, executionID, user string) error
	Rollback(ctx context.Context, executionID, user string) error
	RestartStage(ctx context.Context, executionID, stageID, user string) error
	Judge(ctx context.Context, executionID, stageID string, j engine.Judgment) error
	SkipWait(ctx context.Context, executionID, stageID, user string) error
	Steer(ctx context.Context, executionID, stageID, command, user string) error
	Evaluate(ctx context.Context, executionID, stageID, expression string) (any, error)
	Plan(ctx context.Context, p *engine.PlanParams) (*apitype.Plan, error)
	Subscribe(ctx context.Context, executionID string, afterID int64) *engine.Subscription
	// SyncTriggersTx indexes the triggers of a pipeline revision saved
	// in tx (nil: deleted) and schedules its cron triggers.
	SyncTriggersTx(ctx context.Context, tx store.Tx, pipelineID string, saved *store.Pipeline) error
}

// Config configures the API handler.
type Config struct {
	// Store is required.
	Store store.Store
	// Engine runs executions. When nil, the pipeline routes work and every
	// execution route that needs the engine answers 503.
	Engine Engine
	// Stages are the stage types the engine runs; the API asks those that
	// take commands (stage.Steerable) which ones a running stage takes
	// now, and shows them as the stage's commands. Nil shows none.
	Stages *stage.Registry
	// Validate is used to validate pipeline documents on save and on
	// POST /pipelines/validate; the CLI's local validate uses the same.
	Validate pipeline.ValidateOptions
	// Logger defaults to one that discards everything.
	Logger *slog.Logger
	// Version is reported by /health and /version; defaults to the main
	// module's version from the build info.
	Version string
	// LocalLambdaURL is reported by /health; empty when the embedded local
	// Lambda is not running.
	LocalLambdaURL string
	// Clock defaults to time.Now; it times requests for the log.
	Clock func() time.Time
	// HeartbeatInterval is how often an idle event stream gets a comment
	// line so that proxies keep it open (DefaultHeartbeatInterval).
	HeartbeatInterval time.Duration
	// MaxStreamsPerClient bounds the event streams one client
	// (streamClientKey) may hold open at once; beyond it a stream is
	// refused with 429 (DefaultMaxStreamsPerClient; negative: no bound).
	MaxStreamsPerClient int
	// MaxDocumentBytes bounds a pipeline document (DefaultMaxDocumentBytes);
	// an export given to POST /pipelines/import may be four times as
	// large, each of its pipelines no larger than this.
	MaxDocumentBytes int64
	// CheckTarget checks that an account exists and has a region ("" is
	// its first); the import report uses it to say which stages name an
	// account or region there is not. Nil finds every target good.
	CheckTarget func(account, region string) error
	// Functions lists accounts and their functions for GET /accounts…;
	// when nil there are no accounts.
	Functions Functions
	// Console, when set, serves every path outside /api/ (console.go).
	Console ConsoleFunc
	// Auth authenticates credentials and issues them. Required.
	Auth *auth.Authenticator
	// Policy decides what principals may do; nil means the zero policy,
	// in which only admins may do anything.
	Policy *auth.Policy
	// Hosts are the Host names the server answers to besides the
	// loopback names; a request for any other is refused.
	Hosts []string
	// BehindProxy says a reverse proxy terminates TLS in front of the
	// server: the client's address is the last X-Forwarded-For hop, and
	// cookies are Secure.
	BehindProxy bool
	// AdminTokenFile is where the admin token is kept; /health tells it
	// to loopback clients so that the CLI can find it.
	AdminTokenFile string
	// OIDC, when set, offers single sign-on at /auth/oidc/login (sso.go).
	OIDC *oidc.Provider
	// Metrics, when set, is served at GET /metrics (metrics.go); nil
	// answers 404 there.
	Metrics prometheus.Gatherer
	// TriggerSecrets are the secrets webhook and git triggers name
	// (secretName) to authenticate deliveries, by name (sluice.yaml's
	// triggerSecrets).
	TriggerSecrets map[string]string
}

type server struct {
	store          store.Store
	engine         Engine
	stages         *stage.Registry
	validate       pipeline.ValidateOptions
	log            *slog.Logger
	version        string
	localLambdaURL string
	now            func() time.Time
	heartbeat      time.Duration
	streams        *streamLimiter
	maxDocument    int64
	maxImport      int64
	targets        func(account, region string) error
	functions      Functions
	auth           *auth.Authenticator
	policy         *auth.Policy
	hosts          hostList
	behindProxy    bool
	adminTokenFile string
	oidc           *oidc.Provider
	metrics        prometheus.Gatherer
	triggerSecrets map[string]string
	mux            *http.ServeMux
}

// New returns the API handler. It serves /api/v1/… and answers every other
// path with a JSON 404, so it can be mounted at "/" or at "/api/"; with
// Config.Console, the console serves the paths outside /api/.
// It panics if cfg.Store or cfg.Auth is nil.
func New(cfg Config) http.Handler {
	if cfg.Store == nil || cfg.Auth == nil {
		panic("httpapi: Config.Store and Config.Auth are required")
	}
	if cfg.Policy == nil {
		cfg.Policy = auth.NewPolicy(auth.Config{})
	}
	s := &server{
		store:          cfg.Store,
		engine:         cfg.Engine,
		stages:         cfg.Stages,
		validate:       cfg.Validate,
		log:            cmp.Or(cfg.Logger, discardLogger()).With("subsystem", "httpapi"),
		version:        cmp.Or(cfg.Version, buildVersion()),
		localLambdaURL: cfg.LocalLambdaURL,
		now:            cfg.Clock,
		heartbeat:      cmp.Or(cfg.HeartbeatInterval, DefaultHeartbeatInterval),
		streams:        newStreamLimiter(cmp.Or(cfg.MaxStreamsPerClient, DefaultMaxStreamsPerClient)),
		maxDocument:    cmp.Or(cfg.MaxDocumentBytes, DefaultMaxDocumentBytes),
		maxImport:      4 * cmp.Or(cfg.MaxDocumentBytes, DefaultMaxDocumentBytes),
		targets:        cfg.CheckTarget,
		functions:      cfg.Functions,
		auth:           cfg.Auth,
		policy:         cfg.Policy,
		hosts:          newHostList(cfg.Hosts),
		behindProxy:    cfg.BehindProxy,
		adminTokenFile: cfg.AdminTokenFile,
		oidc:           cfg.OIDC,
		metrics:        cfg.Metrics,
		triggerSecrets: cfg.TriggerSecrets,
		mux:            http.NewServeMux(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern(), s.handle(rt))
	}
	s.mountSSO()
	s.mountCatchAll(cfg.Console)
	return s
}

// ServeHTTP gives every request an id, recovers from panics and logs.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := newRequestID()
	ctx := context.WithValue(r.Context(), requestIDKey{}, id)
	r = r.WithContext(ctx)
	w.Header().Set(RequestIDHeader, id)
	rec := &statusRecorder{ResponseWriter: w}
	start := s.now()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(ctx, "panic in handler", "request_id", id, "method", r.Method, "path", r.URL.Path,
				"panic", v, "stack", string(debug.Stack()))
			if rec.status == 0 {
				s.writeError(rec, r, errPanic)
			}
		}
		s.log.DebugContext(ctx, "request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", cmp.Or(rec.status, http.StatusOK), "duration", s.now().Sub(start))
	}()
	if err := s.checkRequest(r); err != nil {
		s.writeError(rec, r, err)
		return
	}
	s.mux.ServeHTTP(rec, r)
}

// errPanic stands for a recovered panic; it is internal, so the client sees
// only the request id.
var errPanic = &panicError{}

type panicError struct{}

func (*panicError) Error() string { return "handler panicked" }

// handlerFunc is the shape of every handler.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handleFunc adapts a handler that is not a route of the table.
func (s *server) handleFunc(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// noRoute answers paths no route matches: 405 with Allow when the path
// exists under another method, 404 otherwise.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) error {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); !isCatchAll(pattern) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return &Error{
			Status:  http.StatusMethodNotAllowed,
			Code:    apitype.CodeMethodNotAllowed,
			Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + strings.Join(allowed, " or "),
		}
	}
	return notFound("no such route: %s %s (the API is described at /api/v1/openapi.json)", r.Method, r.URL.Path)
}

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status for the log. Unwrap lets
// http.ResponseController reach the underlying writer's Flush.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeJSON writes v as the JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may have gone; nothing to do about it
}

// buildVersion is the main module's version, "(devel)" in a source build.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
