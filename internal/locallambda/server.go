package locallambda

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
	"github.com/sluice-cd/sluice/internal/locallambda/s3"
)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	// DataDir holds everything the local Lambda keeps: the model snapshot
	// (state.json), function packages (functions/NAME/…), the S3 store
	// (s3/) and the data plane's files (invoker/). Required; created if
	// missing.
	DataDir string
	// Region is the region in every ARN. Default "us-east-1".
	Region string
	// AccountID is the account in every ARN. Default "000000000000".
	AccountID string
	// Logger receives the local Lambda's events. Nil discards them.
	Logger *slog.Logger
	// Clock stamps LastModified and the like. Default time.Now.
	Clock func() time.Time
	// ConcurrentExecutions is the account's concurrency limit, reported by
	// GetAccountSettings; reservations must leave 100 of it unreserved, as
	// on AWS. Default 1000.
	ConcurrentExecutions int
	// Invoker holds data-plane settings (idle timeout, async retries, …).
	// New fills in Resolver, Logger, DataDir, Region, Now and
	// AccountConcurrency from the fields above.
	Invoker invoke.Config

	// beforeActivation, if set, runs at the start of every asynchronous
	// activation (function name, qualifier) and event source mapping
	// transition ("event-source-mapping", UUID). Tests use it to hold a
	// function in Pending / InProgress, or a mapping in Creating, for as
	// long as they need.
	beforeActivation func(function, qualifier string)
}

// Server is the local Lambda: the Lambda REST API (control plane here,
// Invoke through the data plane's Invoker) and an S3-compatible endpoint,
// on one loopback address. Paths whose first segment is a Lambda API
// version date (/2015-03-31/…, /2017-10-31/…, …) are Lambda; GET /metrics
// without a query is the Prometheus endpoint; everything else is S3
// (path-style).
type Server struct {
	cfg  Config
	log  *slog.Logger
	arns arns
	st   *controlState
	iv   *invoke.Invoker
	s3   *s3.Store
	pins pins

	routes []lambdaRoute
	unlock func() error // releases the data directory

	ctx    context.Context // the lifetime of background work
	cancel context.CancelFunc
	work   sync.WaitGroup

	mu     sync.Mutex
	srv    *http.Server
	url    string
	closed bool
}

// New opens (or creates) the local Lambda under cfg.DataDir and resumes
// any activation a previous run left unfinished. It does not listen; call
// Start, or serve Handler yourself.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("local Lambda: Config.DataDir is required")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("local Lambda data directory: %w", err)
	}
	cfg.DataDir = dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create local Lambda data directory: %w", err)
	}
	cfg.Region = cmp.Or(cfg.Region, "us-east-1")
	cfg.AccountID = cmp.Or(cfg.AccountID, "000000000000")
	cfg.ConcurrentExecutions = cmp.Or(cfg.ConcurrentExecutions, 1000)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`).MatchString(cfg.Region) {
		return nil, fmt.Errorf("local Lambda: region %q is not a region name like us-east-1", cfg.Region)
	}
	if !regexp.MustCompile(`^\d{12}$`).MatchString(cfg.AccountID) {
		return nil, fmt.Errorf("local Lambda: account ID %q must be 12 digits", cfg.AccountID)
	}

	unlock, err := lockDataDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, arns: arns{region: cfg.Region, account: cfg.AccountID}, unlock: unlock}
	s.st, err = loadState(dir, s.arns, cfg.Clock)
	if err != nil {
		_ = unlock()
		return nil, err
	}
	s.s3, err = s3.Open(s3.Config{Dir: filepath.Join(dir, "s3"), Clock: cfg.Clock, Logger: log})
	if err != nil {
		_ = unlock()
		return nil, err
	}

	ic := cfg.Invoker
	ic.Resolver = s.st
	ic.Logger = cmp.Or(ic.Logger, log)
	ic.DataDir = cmp.Or(ic.DataDir, filepath.Join(dir, "invoker"))
	ic.Region = cmp.Or(ic.Region, cfg.Region)
	ic.AccountConcurrency = cmp.Or(ic.AccountConcurrency, cfg.ConcurrentExecutions)
	if ic.Now == nil {
		ic.Now = cfg.Clock
	}
	s.iv = invoke.New(ic)

	s.routes = s.lambdaRoutes()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.collectGarbage(); err != nil {
		log.Warn("local lambda: clean up unreferenced function files", "err", err)
	}
	s.resume()
	return s, nil
}

// Start listens on addr, which must be a loopback address ("127.0.0.1:0"
// picks a free port; "" means that), and serves until Close is called or
// ctx is done. It returns the address it listens on; URL returns it as a
// base URL for SDK clients.
func (s *Server) Start(ctx context.Context, addr string) (net.Addr, error) {
	addr = cmp.Or(addr, "127.0.0.1:0")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("local Lambda address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("local Lambda address %q: must be a loopback address (127.0.0.1, ::1 or localhost): the local Lambda has no authentication and runs code as you", addr)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("local Lambda: Start after Close")
	}
	if s.srv != nil {
		return nil, errors.New("local Lambda: already started")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("local Lambda listen: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.srv = srv
	s.url = "http://" + ln.Addr().String()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("local lambda: serve", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	s.log.Info("local lambda: listening", "url", s.url)
	return ln.Addr(), nil
}

// URL is the base URL of the endpoint (for Lambda and S3 clients alike),
// e.g. "http://127.0.0.1:41234"; "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Invoker is the data plane behind Invoke, for what the control plane does
// not serve itself (per-version metric series for canary analysis).
func (s *Server) Invoker() *invoke.Invoker { return s.iv }

// Handler serves the whole endpoint: Lambda API, /metrics and S3.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Close stops serving, stops background activations (a restart resumes
// them), stops every function process and waits for all of it.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv := s.srv
	s.mu.Unlock()

	var errs []error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		cancel()
	}
	s.cancel()
	s.work.Wait()
	if err := s.iv.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close the invoker: %w", err))
	}
	if err := s.unlock(); err != nil {
		errs = append(errs, fmt.Errorf("unlock the data directory: %w", err))
	}
	return errors.Join(errs...)
}

// goBackground runs fn in a goroutine the Server owns; Close waits for it.
func (s *Server) goBackground(fn func(ctx context.Context)) {
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		fn(s.ctx)
	}()
}

// lambdaAPIVersion matches the first path segment of every Lambda REST
// operation: the API version date (2015-03-31, 2017-10-31, 2019-09-25, …).
// S3 bucket names could take that form; such buckets are unreachable here.
var lambdaAPIVersion = regexp.MustCompile(`^20\d\d-\d\d-\d\d$`)

// internalPrefix is the first path segment of the local Lambda's own
// resources (code download locations). S3 bucket names cannot start with
// "_", so it never hides a bucket.
const internalPrefix = "_locallambda"

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	switch {
	case lambdaAPIVersion.MatchString(first):
		s.serveLambda(w, r)
	case first == internalPrefix:
		s.serveInternal(w, r)
	case first == "metrics" && r.Method == http.MethodGet && r.URL.RawQuery == "" && strings.TrimSuffix(r.URL.Path, "/") == "/metrics":
		s.iv.Metrics().ServeHTTP(w, r)
	default:
		s.s3.Handler().ServeHTTP(w, r)
	}
}

// routeParams are the percent-decoded path parameters of a Lambda route.
type routeParams struct {
	function string // {FunctionName}: a name or an ARN, possibly with ":qualifier"
	alias    string // {Name} of an alias
	uuid     string // {UUID} of an event source mapping
	resource string // {Resource} ARN of TagResource & co.
}

type lambdaHandler func(w http.ResponseWriter, r *http.Request, p routeParams) error

type lambdaRoute struct {
	method string
	// path holds literal segments and the parameters {function}, {alias},
	// {uuid} and {resource}.
	path   []string
	op     string
	handle lambdaHandler
}

func (s *Server) lambdaRoutes() []lambdaRoute {
	r := func(method, path, op string, h lambdaHandler) lambdaRoute {
		return lambdaRoute{method: method, path: strings.Split(strings.Trim(path, "/"), "/"), op: op, handle: h}
	}
	return []lambdaRoute{
		r("POST", "2015-03-31/functions", "CreateFunction", s.createFunction),
		r("GET", "2015-03-31/functions", "ListFunctions", s.listFunctions),
		r("GET", "2015-03-31/functions/{function}", "GetFunction", s.getFunction),
		r("DELETE", "2015-03-31/functions/{function}", "DeleteFunction", s.deleteFunction),
		r("GET", "2015-03-31/functions/{function}/configuration", "GetFunctionConfiguration", s.getFunctionConfiguration),
		r("PUT", "2015-03-31/functions/{function}/configuration", "UpdateFunctionConfiguration", s.updateFunctionConfiguration),
		r("PUT", "2015-03-31/functions/{function}/code", "UpdateFunctionCode", s.updateFunctionCode),
		r("POST", "2015-03-31/functions/{function}/versions", "PublishVersion", s.publishVersion),
		r("GET", "2015-03-31/functions/{function}/versions", "ListVersionsByFunction", s.listVersionsByFunction),
		r("POST", "2015-03-31/functions/{function}/aliases", "CreateAlias", s.createAlias),
		r("GET", "2015-03-31/functions/{function}/aliases", "ListAliases", s.listAliases),
		r("GET", "2015-03-31/functions/{function}/aliases/{alias}", "GetAlias", s.getAlias),
		r("PUT", "2015-03-31/functions/{function}/aliases/{alias}", "UpdateAlias", s.updateAlias),
		r("DELETE", "2015-03-31/functions/{function}/aliases/{alias}", "DeleteAlias", s.deleteAlias),
		r("POST", "2015-03-31/functions/{function}/invocations", "Invoke", s.invoke),
		r("PUT", "2017-10-31/functions/{function}/concurrency", "PutFunctionConcurrency", s.putFunctionConcurrency),
		r("DELETE", "2017-10-31/functions/{function}/concurrency", "DeleteFunctionConcurrency", s.deleteFunctionConcurrency),
		r("GET", "2019-09-30/functions/{function}/concurrency", "GetFunctionConcurrency", s.getFunctionConcurrency),
		r("POST", "2017-03-31/tags/{resource}", "TagResource", s.tagResource),
		r("DELETE", "2017-03-31/tags/{resource}", "UntagResource", s.untagResource),
		r("GET", "2017-03-31/tags/{resource}", "ListTags", s.listTags),
		r("POST", "2015-03-31/event-source-mappings", "CreateEventSourceMapping", s.createEventSourceMapping),
		r("GET", "2015-03-31/event-source-mappings", "ListEventSourceMappings", s.listEventSourceMappings),
		r("GET", "2015-03-31/event-source-mappings/{uuid}", "GetEventSourceMapping", s.getEventSourceMapping),
		r("PUT", "2015-03-31/event-source-mappings/{uuid}", "UpdateEventSourceMapping", s.updateEventSourceMapping),
		r("DELETE", "2015-03-31/event-source-mappings/{uuid}", "DeleteEventSourceMapping", s.deleteEventSourceMapping),
		r("PUT", "2019-09-25/functions/{function}/event-invoke-config", "PutFunctionEventInvokeConfig", s.putFunctionEventInvokeConfig),
		r("POST", "2019-09-25/functions/{function}/event-invoke-config", "UpdateFunctionEventInvokeConfig", s.updateFunctionEventInvokeConfig),
		r("GET", "2019-09-25/functions/{function}/event-invoke-config", "GetFunctionEventInvokeConfig", s.getFunctionEventInvokeConfig),
		r("DELETE", "2019-09-25/functions/{function}/event-invoke-config", "DeleteFunctionEventInvokeConfig", s.deleteFunctionEventInvokeConfig),
		r("GET", "2019-09-25/functions/{function}/event-invoke-config/list", "ListFunctionEventInvokeConfigs", s.listFunctionEventInvokeConfigs),
		r("GET", "2016-08-19/account-settings", "GetAccountSettings", s.getAccountSettings),
	}
}

// matchRoute finds the route for a request by its escaped path, so that a
// percent-encoded ARN ("arn%3Aaws%3Alambda%3A…") stays one segment; each
// parameter is decoded on its own.
func matchRoute(routes []lambdaRoute, method, escapedPath string) (*lambdaRoute, routeParams, error) {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.path) != len(segs) {
			continue
		}
		var p routeParams
		ok := true
		for j, want := range rt.path {
			if !strings.HasPrefix(want, "{") {
				if segs[j] != want {
					ok = false
					break
				}
				continue
			}
			v, err := url.PathUnescape(segs[j])
			if err != nil {
				return nil, routeParams{}, awserr.InvalidParameter("The path segment %q is not valid percent-encoding.", segs[j])
			}
			switch want {
			case "{function}":
				p.function = v
			case "{alias}":
				p.alias = v
			case "{uuid}":
				p.uuid = v
			case "{resource}":
				p.resource = v
			}
		}
		if ok {
			return rt, p, nil
		}
	}
	return nil, routeParams{}, nil
}

func (s *Server) serveLambda(w http.ResponseWriter, r *http.Request) {
	rt, p, err := matchRoute(s.routes, r.Method, r.URL.EscapedPath())
	if err != nil {
		awserr.Write(w, err)
		return
	}
	if rt == nil {
		awserr.Write(w, unsupportedOperation(r.Method, r.URL.EscapedPath()))
		return
	}
	if rt.op == "Invoke" {
		// The data plane writes its own headers and errors.
		_ = rt.handle(w, r, p)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	rec.Header().Set("X-Amzn-RequestId", uuid.NewString())
	err = s.callHandler(rt, rec, r, p)
	if err != nil {
		var ae *awserr.Error
		if !errors.As(err, &ae) {
			s.log.Error("local lambda: "+rt.op, "err", err)
		}
		awserr.Write(rec, err)
	}
	s.log.Debug("local lambda: "+rt.op, "method", r.Method, "path", r.URL.EscapedPath(), "status", rec.status, "duration", time.Since(start))
}

// callHandler runs a control-plane handler; a panic becomes a
// ServiceException rather than a dropped connection.
func (s *Server) callHandler(rt *lambdaRoute, w http.ResponseWriter, r *http.Request, p routeParams) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("local lambda: panic in "+rt.op, "panic", v)
			err = fmt.Errorf("%s: internal error: %v", rt.op, v)
		}
	}()
	return rt.handle(w, r, p)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// unsupportedFeatures names the Lambda features the local Lambda does not
// have, by the API version date that carries them (and a path word where
// one date carries several).
func unsupportedOperation(method, escapedPath string) error {
	segs := strings.Split(strings.Trim(escapedPath, "/"), "/")
	has := func(word string) bool {
		for _, s := range segs[1:] {
			if s == word {
				return true
			}
		}
		return false
	}
	feature := ""
	switch segs[0] {
	case "2015-03-31":
		if has("policy") {
			feature = "Resource-based policies (AddPermission, GetPolicy, RemovePermission) are"
		}
	case "2014-11-13":
		feature = "InvokeAsync (deprecated; use Invoke with InvocationType Event) is"
	case "2018-10-31":
		feature = "Layers are"
	case "2019-09-30":
		if has("provisioned-concurrency") {
			feature = "Provisioned concurrency is"
		}
	case "2020-04-22", "2020-06-30":
		feature = "Code signing is"
	case "2021-07-20":
		feature = "Runtime management configuration is"
	case "2021-10-31":
		feature = "Function URLs are"
	case "2021-11-15":
		feature = "InvokeWithResponseStream is"
	case "2024-08-31":
		feature = "Recursive loop detection configuration is"
	case "2025-11-30":
		feature = "Capacity providers (Lambda Managed Instances) are"
	case "2025-12-01":
		feature = "Durable executions are"
	case "2026-07-09":
		feature = "Resource policies are"
	}
	if feature != "" {
		return awserr.InvalidParameter("%s not supported by the local Lambda.", feature)
	}
	return awserr.Errorf(http.StatusNotFound, awserr.TypeUnknownOperation, "The local Lambda does not implement %s %s.", method, escapedPath)
}

// maxRequestBody is AWS's limit on a control-plane request: a 50 MB zip,
// base64-encoded in JSON.
const maxRequestBody = 69905067

// decodeRequest reads a JSON request body into v. An empty body is {}.
func decodeRequest(r *http.Request, op string, v any) error {
	b, err := readBody(r, op)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// readBody reads a control-plane request body, refusing one larger than
// AWS accepts.
func readBody(r *http.Request, op string) ([]byte, error) {
	tooLarge := awserr.Errorf(http.StatusRequestEntityTooLarge, awserr.TypeRequestTooLarge,
		"Request must be smaller than %d bytes for the %s operation", maxRequestBody, op)
	if r.ContentLength > maxRequestBody {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the %s request: %w", op, err)
	}
	if len(b) > maxRequestBody {
		return nil, tooLarge
	}
	return b, nil
}

// decodeJSON decodes a request body; empty means {}. A body that is not
// the JSON the operation takes is InvalidRequestContentException.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		msg := err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				msg = fmt.Sprintf("the request body must be a JSON object, not %s", te.Value)
			} else {
				msg = fmt.Sprintf("field %s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
			}
		}
		return awserr.Errorf(http.StatusBadRequest, awserr.TypeInvalidRequestContent, "Could not parse request body into json: %s", msg)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int32", "int64", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return goKind
}

// respondJSON writes v as the JSON body of a success response.
func respondJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// respondRaw writes an already encoded JSON body.
func respondRaw(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

func respondEmpty(w http.ResponseWriter, status int) error {
	w.WriteHeader(status)
	return nil
}

// invoke hands Invoke to the data plane.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request, p routeParams) error {
	s.iv.ServeInvoke(w, r, p.function, r.URL.Query().Get("Qualifier"))
	return nil
}

// serveInternal serves the local Lambda's own resources: the code
// download behind GetFunction's Code.Location,
// GET /_locallambda/functions/NAME/code/HEX.zip, and the per-version
// metrics query, GET /_locallambda/metrics/query (see serveMetricsQuery).
func (s *Server) serveInternal(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
	if len(segs) == 3 && segs[1] == "metrics" && segs[2] == "query" && r.Method == http.MethodGet {
		s.serveMetricsQuery(w, r)
		return
	}
	if r.Method != http.MethodGet || len(segs) != 5 || segs[1] != "functions" || segs[3] != "code" || !strings.HasSuffix(segs[4], ".zip") {
		http.NotFound(w, r)
		return
	}
	name, err := url.PathUnescape(segs[2])
	if err != nil {
		http.NotFound(w, r)
		return
	}
	path, ok := s.codeZipPath(name, strings.TrimSuffix(segs[4], ".zip"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	http.ServeFile(w, r, path)
}

// MetricsQuery is the answer of GET /_locallambda/metrics/query.
type MetricsQuery struct {
	Function  string                 `json:"function"`
	Qualifier string                 `json:"qualifier"`
	Since     time.Time              `json:"since"`
	Until     time.Time              `json:"until"`
	Step      string                 `json:"step"`
	Series    []invoke.VersionSeries `json:"series"`
}

// serveMetricsQuery answers
// GET /_locallambda/metrics/query?function=NAME&qualifier=Q&since=T&until=T&step=D
// with per-version time series (Invoker.Query). since and until are
// RFC 3339 times or durations back from now ("5m"); until defaults to now,
// since to 5 minutes before until, step to 10s; qualifier "*" (the
// default) is every invocation, "" unqualified ones.
func (s *Server) serveMetricsQuery(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := func(msg string) {
		awserr.Write(w, &awserr.Error{Status: http.StatusBadRequest, Type: "InvalidParameterValueException", Message: msg})
	}
	fn := q.Get("function")
	if fn == "" {
		bad("function is required: the name or ARN of the function whose metrics to query")
		return
	}
	now := s.cfg.Clock()
	at := func(key string, def time.Time) (time.Time, bool) {
		v := q.Get(key)
		if v == "" {
			return def, true
		}
		if d, err := time.ParseDuration(v); err == nil {
			return now.Add(-d), true
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			bad(fmt.Sprintf("%s %q is neither an RFC 3339 time nor a duration back from now such as 5m", key, v))
			return time.Time{}, false
		}
		return t, true
	}
	until, ok := at("until", now)
	if !ok {
		return
	}
	since, ok := at("since", until.Add(-5*time.Minute))
	if !ok {
		return
	}
	step := 10 * time.Second
	if v := q.Get("step"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(fmt.Sprintf("step %q is not a positive duration such as 10s", v))
			return
		}
		step = d
	}
	qualifier := "*"
	if q.Has("qualifier") {
		qualifier = q.Get("qualifier")
	}
	series := s.iv.Query(fn, qualifier, since, until, step)
	if series == nil {
		series = []invoke.VersionSeries{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(MetricsQuery{
		Function: fn, Qualifier: qualifier, Since: since, Until: until, Step: step.String(), Series: series,
	})
}
