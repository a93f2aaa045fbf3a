package locallambda

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/awsid"
	"github.com/sluice-cd/sluice/internal/httpserve"
	"github.com/sluice-cd/sluice/internal/locallambda/access"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/cloudfront"
	"github.com/sluice-cd/sluice/internal/locallambda/control"
	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
	"github.com/sluice-cd/sluice/internal/locallambda/restapi"
	"github.com/sluice-cd/sluice/internal/locallambda/s3"
	"github.com/sluice-cd/sluice/internal/locallambda/sns"
	"github.com/sluice-cd/sluice/internal/locallambda/sqs"
	"github.com/sluice-cd/sluice/internal/lockfile"
)

// Config configures a Server. Zero values take the documented defaults.
type Config struct {
	// DataDir holds everything the local Lambda keeps: the control plane's
	// database (control.db; an earlier build's state.json is migrated into
	// it on first start and renamed state.json.migrated), function packages (functions/NAME/…), the S3 store
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
	// ConcurrentExecutions is the account's concurrency limit: how many
	// environments run at once, reported by GetAccountSettings; an
	// invocation beyond it is refused with TooManyRequestsException.
	// Reservations must leave a tenth of it (at most 100, as on AWS)
	// unreserved. Default invoke.MachineConcurrency(): what this machine's
	// memory holds, at most AWS's 1,000.
	ConcurrentExecutions int
	// Invoker holds data-plane settings (idle timeout, async retries, …).
	// New fills in Resolver, Logger, DataDir, Region, Now and
	// AccountConcurrency from the fields above.
	Invoker invoke.Config
	// RequestMemory bounds the memory the Lambda API's request bodies
	// take at once (each at most 1 MiB: a ZipFile is written to disk as
	// it arrives, and S3 objects and multipart parts go to disk too);
	// requests beyond it wait their turn. Default 64 MiB.
	RequestMemory int64
	// Credentials, if set, are the one access key whose SigV4 signatures
	// the Lambda API and S3 accept: every signature is verified with its
	// secret. Nil accepts any well-formed signature. Either way a request
	// must be signed, and no request from a web page is served (package
	// access).
	Credentials *access.Credentials

	// CloudFrontDeployDelay is how long a changed distribution stays
	// InProgress before it is Deployed (package cloudfront). Default 2s;
	// negative deploys at once.
	CloudFrontDeployDelay time.Duration

	// beforeActivation, if set, runs at the start of every asynchronous
	// activation (function name, qualifier) and event source mapping
	// transition ("event-source-mapping", UUID). Tests use it to hold a
	// function in Pending / InProgress, or a mapping in Creating, for as
	// long as they need.
	beforeActivation func(function, qualifier string)
	// SNSRetryDelays are the waits before the retries of a failed SNS
	// delivery (package sns's Config.RetryDelays). Nil: AWS's three
	// retries 20 s apart.
	SNSRetryDelays []time.Duration

	// bodyTimeout, if set, replaces httpserve.DefaultBodyTimeout, so that
	// tests can watch a dribbled body being cut off.
	bodyTimeout time.Duration
}

// Server is the local Lambda: the Lambda REST API (the control plane, with
// Invoke through the data plane's Invoker) and an S3-compatible endpoint,
// on one loopback address. Paths whose first segment is a Lambda API
// version date (/2015-03-31/…, /2017-10-31/…, …) are Lambda; paths under
// /_locallambda/ are the local Lambda's own resources; GET /metrics without
// a query is the Prometheus endpoint; everything else is S3 (path-style).
// Before any of that, a request signed for "cloudfront" goes to package
// cloudfront, whatever its path. Package access checks every request
// first; see the package comment.
type Server struct {
	cfg    Config
	log    *slog.Logger
	guard  *access.Guard
	ctl    *control.Plane
	iv     *invoke.Invoker
	s3     *s3.Store
	sqs    *sqs.Service
	poller *sqs.Poller // delivers local queues to functions (SQS event source mappings)
	sns    *sns.Service
	// wired is closed once every service is built: a delivery between
	// them waits for it.
	wired  chan struct{}
	lambda http.Handler // the Lambda REST API
	cf     *cloudfront.Plane
	// services are the further AWS services on the endpoint, by the
	// service name of a request's SigV4 credential scope.
	services map[string]awsService
	own      http.Handler // the /_locallambda/ resources
	unlock   func() error // releases the data directory

	mu     sync.Mutex
	srv    *http.Server
	url    string
	closed bool
}

// awsService is an AWS service the endpoint serves beside Lambda and S3,
// picked by the service name a request is signed for.
type awsService struct {
	handler http.Handler
	// refuse writes a refusal of package access in the service's envelope.
	refuse func(w http.ResponseWriter, r *http.Request, f *access.Refusal)
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
	if cfg.ConcurrentExecutions == 0 {
		cfg.ConcurrentExecutions = invoke.MachineConcurrency()
	}
	cfg.RequestMemory = cmp.Or(cfg.RequestMemory, 64<<20)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if !awsid.ValidRegion(cfg.Region) {
		return nil, fmt.Errorf("local Lambda: region %q is not a region name like us-east-1", cfg.Region)
	}
	if !awsid.ValidAccountID(cfg.AccountID) {
		return nil, fmt.Errorf("local Lambda: account ID %q must be 12 digits", cfg.AccountID)
	}

	unlock, err := lockfile.Lock(filepath.Join(dir, "lock"))
	if errors.Is(err, lockfile.ErrLocked) {
		return nil, fmt.Errorf("local Lambda data directory %s is in use by another local Lambda (another sluice process?)", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("lock local Lambda data directory: %w", err)
	}
	s := &Server{cfg: cfg, log: log, unlock: unlock, wired: make(chan struct{}),
		guard: access.New(access.Config{Credentials: cfg.Credentials, Clock: cfg.Clock, TempDir: filepath.Join(dir, "tmp")})}
	s.s3, err = s3.Open(s3.Config{Dir: filepath.Join(dir, "s3"), Clock: cfg.Clock, Logger: log})
	if err != nil {
		_ = unlock()
		return nil, err
	}
	s.ctl, err = control.Open(control.Config{
		DataDir: dir, Region: cfg.Region, AccountID: cfg.AccountID, Logger: log, Clock: cfg.Clock,
		ConcurrentExecutions: cfg.ConcurrentExecutions, Objects: s.s3, BeforeActivation: cfg.beforeActivation,
		RequestMemory: cfg.RequestMemory,
		MappingsChanged: func() {
			if s.poller != nil {
				s.poller.Sync()
			}
		},
	})
	if err != nil {
		_ = unlock()
		return nil, err
	}

	s.sqs, err = sqs.Open(sqs.Config{Path: filepath.Join(dir, "sqs.db"), Region: cfg.Region, AccountID: cfg.AccountID, Clock: cfg.Clock, Logger: log})
	if err != nil {
		s.ctl.Close()
		_ = unlock()
		return nil, err
	}
	s.sns, err = sns.Open(context.Background(), sns.Config{
		Path: filepath.Join(dir, "sns.db"), Region: cfg.Region, AccountID: cfg.AccountID, Logger: log, Clock: cfg.Clock,
		BaseURL: s.URL, Functions: (*functions)(s), Queues: (*queues)(s), RetryDelays: cfg.SNSRetryDelays,
	})
	if err != nil {
		_ = s.sqs.Close()
		s.ctl.Close()
		_ = unlock()
		return nil, err
	}
	s.services = map[string]awsService{
		"sqs": {handler: s.sqs.Handler(), refuse: func(w http.ResponseWriter, r *http.Request, f *access.Refusal) {
			e := f.Lambda()
			sqs.WriteRefusal(w, r, e.Status, strings.TrimSuffix(e.Type, "Exception"), e.Message)
		}},
		"sns": {handler: s.sns.Handler(), refuse: func(w http.ResponseWriter, _ *http.Request, f *access.Refusal) {
			e := f.Lambda()
			sns.WriteError(w, e.Status, strings.TrimSuffix(e.Type, "Exception"), e.Message)
		}},
	}

	ic := cfg.Invoker
	ic.Resolver = s.ctl
	ic.Sender = (*sender)(s)
	ic.Logger = cmp.Or(ic.Logger, log)
	ic.DataDir = cmp.Or(ic.DataDir, filepath.Join(dir, "invoker"))
	ic.Region = cmp.Or(ic.Region, cfg.Region)
	ic.AccountConcurrency = cmp.Or(ic.AccountConcurrency, cfg.ConcurrentExecutions)
	if ic.Now == nil {
		ic.Now = cfg.Clock
	}
	s.iv = invoke.New(ic)
	s.poller = sqs.NewPoller(sqs.PollerConfig{Service: s.sqs, Mappings: s.sqsMappings, Logger: log, Report: s.ctl.SetMappingResult,
		Invoke: func(ctx context.Context, function, qualifier string, payload []byte) (sqs.Invocation, error) {
			r, err := s.iv.Invoke(ctx, function, qualifier, payload, 0)
			return sqs.Invocation{Response: r.Payload, FunctionError: r.FunctionError != "",
				Settled: func(messages, failed int) { s.iv.RecordMessages(r, messages, failed) }}, err
		}})
	close(s.wired)
	s.ctl.Start(s.iv)
	s.poller.Sync() // the mappings enabled before a restart deliver again

	s.cf, err = cloudfront.Open(cloudfront.Config{
		DataDir: filepath.Join(dir, "cloudfront"), AccountID: cfg.AccountID, Clock: cfg.Clock, Logger: log,
		Functions: s.ctl, Invoker: s.iv, DeployDelay: cfg.CloudFrontDeployDelay,
	})
	if err != nil {
		s.ctl.Close()
		_ = s.iv.Close()
		_ = unlock()
		return nil, err
	}
	s.services["cloudfront"] = awsService{handler: s.cf.Handler(), refuse: cloudfront.WriteRefusal}

	s.lambda = restapi.New(restapi.Config{Routes: s.ctl.Routes(), NotFound: http.HandlerFunc(restapi.UnknownOperation), Logger: log})
	s.own = restapi.New(restapi.Config{Routes: []restapi.Route{
		s.ctl.CodeRoute(),
		s.ctl.AliasHistoryRoute(),
		{Method: "GET", Path: "/" + ownPrefix + "/metrics/query", Op: "QueryMetrics", Raw: true, Handle: s.serveMetricsQuery},
		{Method: "GET", Path: "/" + ownPrefix + "/metrics/samples", Op: "QueryMetricSamples", Raw: true, Handle: s.serveMetricsSamples},
		{Method: "GET", Path: sns.CertificatePath, Op: "GetSNSSigningCertificate", Raw: true, Handle: func(w http.ResponseWriter, r *http.Request) error {
			s.sns.CertificateHandler().ServeHTTP(w, r)
			return nil
		}},
	}})
	return s, nil
}

// Start listens on addr, which must be a loopback address ("127.0.0.1:0"
// picks a free port; "" means that), and serves until Close is called or
// ctx is done, with package httpserve's limits: a request body that stops
// arriving is cut off, a response (a long Invoke) is not. It returns the
// address it listens on; URL returns it as a base URL for SDK clients.
func (s *Server) Start(ctx context.Context, addr string) (net.Addr, error) {
	addr = cmp.Or(addr, "127.0.0.1:0")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("local Lambda address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("local Lambda address %q: must be a loopback address (127.0.0.1, ::1 or localhost): the local Lambda runs code as you", addr)
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
	srv := httpserve.New(httpserve.Config{Handler: s.Handler(), BodyTimeout: s.cfg.bodyTimeout, Logger: s.log, ErrorLevel: slog.LevelDebug})
	s.srv = srv
	s.url = "http://" + ln.Addr().String()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("local lambda: serve", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	s.log.Info("local lambda: listening", "url", s.url, "concurrentExecutions", s.cfg.ConcurrentExecutions)
	return ln.Addr(), nil
}

// URL is the base URL of the endpoint (for Lambda and S3 clients alike),
// e.g. "http://127.0.0.1:41234"; "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// CloudFront is the local CloudFront: its control plane, served on this
// endpoint to requests signed for "cloudfront", and its edge proxy, which
// StartEdge serves.
func (s *Server) CloudFront() *cloudfront.Plane { return s.cf }

// StartEdge serves the local CloudFront's edge proxy on addr, a loopback
// address ("" picks a free port on 127.0.0.1), until Close or ctx is done;
// see package cloudfront for how a request picks its distribution.
func (s *Server) StartEdge(ctx context.Context, addr string) (net.Addr, error) {
	return s.cf.StartEdge(ctx, addr)
}

// Invoker is the data plane behind Invoke, for what the control plane does
// not serve itself (per-version metric series for canary analysis).
func (s *Server) Invoker() *invoke.Invoker { return s.iv }

// SQSService is the local SQS, for the packages that send to queues (SNS
// subscriptions, dead-letter queues and destinations).
func (s *Server) SQSService() *sqs.Service { return s.sqs }

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
	s.poller.Stop()      // first: a poller's receive no longer waits after EndLongPolls
	s.sqs.EndLongPolls() // a ReceiveMessage waiting 20 s would hold up Shutdown
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		cancel()
	}
	s.cf.Close()
	s.ctl.Close()
	if err := s.sns.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close the local SNS: %w", err))
	}
	if err := s.iv.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close the invoker: %w", err))
	}
	s.poller.Close()
	if err := s.sqs.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close the local SQS: %w", err))
	}
	if err := s.unlock(); err != nil {
		errs = append(errs, fmt.Errorf("unlock the data directory: %w", err))
	}
	return errors.Join(errs...)
}

// sqsMappings are the enabled event source mappings whose source is a
// queue of the local SQS: the ones its Poller delivers. Mappings of
// Kinesis, DynamoDB and the other sources are stored only.
func (s *Server) sqsMappings() []sqs.Mapping {
	prefix := "arn:aws:sqs:" + s.cfg.Region + ":" + s.cfg.AccountID + ":"
	var out []sqs.Mapping
	for _, m := range s.ctl.EventSourceMappings() {
		if m.State != "Enabled" || !strings.HasPrefix(m.EventSourceArn, prefix) {
			continue
		}
		out = append(out, sqs.Mapping{UUID: m.UUID, Function: m.Function, Qualifier: m.Qualifier, QueueARN: m.EventSourceArn,
			BatchSize: m.BatchSize, BatchingWindow: m.BatchingWindow, ReportBatchItemFailures: m.ReportBatchItemFailures,
			MaximumConcurrency: m.MaximumConcurrency})
	}
	return out
}

// lambdaAPIVersion matches the first path segment of every Lambda REST
// operation: the API version date (2015-03-31, 2017-10-31, 2019-09-25, …).
// S3 bucket names could take that form; such buckets are unreachable here.
var lambdaAPIVersion = regexp.MustCompile(`^20\d\d-\d\d-\d\d$`)

// ownPrefix is the first path segment of the local Lambda's own resources
// (code download locations, the metrics query). S3 bucket names cannot
// start with "_", so it never hides a bucket.
const ownPrefix = "_locallambda"

// serveHTTP picks the service a request is for by its first path segment,
// lets package access refuse it, and hands it to the service, which routes
// its own requests. S3 gets the path untouched: its keys may hold empty
// and dot segments.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	svc, h := s.service(r)
	body := r.Body
	f := s.guard.Check(r, svc)
	if b := r.Body; b != body {
		defer b.Close() // a body the guard read and put back, perhaps a file
	}
	if f != nil {
		s.log.Warn("local lambda: refused a request", "reason", f.Reason, "method", r.Method, "path", r.URL.EscapedPath(),
			"host", r.Host, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "user_agent", r.UserAgent())
		if svc == access.SNSLink {
			svc = access.SNS
		}
		if as, ok := s.services[string(svc)]; ok {
			as.refuse(w, r, f)
			return
		}
		if svc == access.S3 {
			status, code := f.S3()
			awserr.WriteS3(w, r, status, code, f.Message)
			return
		}
		w.Header().Set("X-Amzn-RequestId", uuid.NewString())
		awserr.Write(w, f.Lambda())
		return
	}
	h.ServeHTTP(w, r)
}

// service says which service a request is for, and its handler. The
// service a request is signed for is looked at before the path:
// CloudFront's /2020-05-31/… would otherwise pass for a Lambda API
// version.
func (s *Server) service(r *http.Request) (access.Service, http.Handler) {
	if name := access.ScopeService(r); name != "" {
		if as, ok := s.services[name]; ok {
			return access.Service(name), as.handler
		}
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	switch {
	case lambdaAPIVersion.MatchString(first):
		return access.Lambda, s.lambda
	case first == ownPrefix:
		return access.Own, s.own
	case first == "metrics" && r.Method == http.MethodGet && r.URL.RawQuery == "" && strings.TrimSuffix(r.URL.Path, "/") == "/metrics":
		return access.Own, s.iv.Metrics()
	}
	if isSNSLink(r) {
		return access.SNSLink, s.sns.Handler()
	}
	return access.S3, s.s3.Handler()
}

// isSNSLink tells an SNS SubscribeURL or UnsubscribeURL (an unsigned GET
// of /?Action=ConfirmSubscription… or /?Action=Unsubscribe…) from an S3
// request, which never carries Action.
func isSNSLink(r *http.Request) bool {
	if r.Method != http.MethodGet || r.URL.Path != "/" || r.Header.Get("Authorization") != "" {
		return false
	}
	switch r.URL.Query().Get("Action") {
	case "ConfirmSubscription", "Unsubscribe":
		return true
	}
	return false
}
