package invoke

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Config configures an Invoker. Zero values take the documented
// defaults.
type Config struct {
	// Resolver resolves invoked names; required.
	Resolver Resolver
	// Logger receives the data plane's own events; function output and the
	// START/END/REPORT lines are logged at Debug. Nil discards.
	Logger *slog.Logger
	// DataDir holds the durable queue of Event invocations (DataDir/async)
	// and the shipped runtime bootstraps (DataDir/runtime). Empty means a
	// fresh temporary directory, so queued events do not survive a restart.
	DataDir string
	// AccountConcurrency is the account's concurrent-execution limit,
	// shared by all functions without reserved concurrency. Default
	// MachineConcurrency().
	AccountConcurrency int
	// IdleTimeout is how long an idle environment is kept warm. Default 10m.
	IdleTimeout time.Duration
	// InitTimeout bounds a new environment's start-up, from process start
	// to its first GET /next (AWS: 10 s). Default 10s.
	InitTimeout time.Duration
	// Region is reported to functions as AWS_REGION. Default "us-east-1".
	Region string
	// Rand draws the weighted-alias routing: a value in [0, 1); a draw
	// below the additional version's weight runs that version. It must be
	// safe for concurrent use. Default math/rand/v2.Float64.
	Rand func() float64
	// Now is the clock used for timestamps (metrics buckets, log dates,
	// event ages). Default time.Now.
	Now func() time.Time
	// AsyncRetryDelays are the delays before the retries of a failed Event
	// invocation; its length is the number of retries unless the event
	// invoke configuration sets MaximumRetryAttempts (then a retry past
	// the slice's end waits its last delay, or a minute per attempt if it
	// is empty). Nil means AWS's {1m, 2m}; an empty non-nil slice means no
	// retries.
	AsyncRetryDelays []time.Duration
	// Sender delivers dead-letter events and destination records to SQS
	// queues and SNS topics. Nil: such deliveries fail and are logged.
	Sender Sender
	// AsyncWorkers bounds how many Event invocations run at once. Default 8.
	AsyncWorkers int
	// MaxEventAge drops queued events older than this, unless the event
	// invoke configuration sets MaximumEventAgeInSeconds. Default 6h (AWS).
	MaxEventAge time.Duration
	// MetricsRetention and MetricsResolution shape the in-memory per-version
	// time series Query reads. Defaults 1h and 1s.
	MetricsRetention, MetricsResolution time.Duration
	// SampleCapacity bounds the per-request samples Samples reads, per
	// (function, alias as invoked, executed version): the newest this many
	// within MetricsRetention are kept, 16 bytes each. Default 100,000;
	// negative keeps none.
	SampleCapacity int
}

// Invoke limits, as AWS documents them.
const (
	maxSyncPayload  = 6 * 1024 * 1024 // 6 MB request and response
	maxAsyncPayload = 256 * 1024      // 256 KB for Event
	// maxRuntimeResponse is what the Runtime API accepts from a function
	// before it turns the response into Function.ResponseSizeTooLarge
	// (the RIE's MaxPayloadSize).
	maxRuntimeResponse = maxSyncPayload + 100
	logTailBytes       = 4096
	maxClientContext   = 3583
	defaultTimeout     = 3 * time.Second
	defaultMemoryMB    = 128
)

// Invoker is the data plane of the local Lambda: it serves Invoke, runs
// functions in pools of execution environments, queues Event invocations
// durably and keeps per-version metrics. It is safe for concurrent use.
type Invoker struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	async   *asyncQueue
	rt      runtimeFiles
	buffers sync.Pool // *bytes.Buffer for runtime responses

	mu          sync.RWMutex
	functions   map[string]*fnState
	closed      bool
	reservedSum atomic.Int64  // sum of the reserved concurrency of known functions
	unreserved  atomic.Int64  // in-flight invocations of unreserved functions
	cpuTurn     atomic.Uint32 // where the next environment's CPUs begin (startProcess)

	stop chan struct{}
	wg   sync.WaitGroup // the reaper
	envs sync.WaitGroup // one per environment, done when it is gone
}

// New builds an Invoker and starts its background work: the idle
// reaper and the Event queue, which resumes events queued before a restart.
func New(cfg Config) *Invoker {
	if cfg.AccountConcurrency == 0 {
		cfg.AccountConcurrency = MachineConcurrency()
	}
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, 10*time.Minute)
	cfg.InitTimeout = cmp.Or(cfg.InitTimeout, 10*time.Second)
	cfg.Region = cmp.Or(cfg.Region, "us-east-1")
	cfg.AsyncWorkers = cmp.Or(cfg.AsyncWorkers, 8)
	cfg.MaxEventAge = cmp.Or(cfg.MaxEventAge, 6*time.Hour)
	cfg.MetricsRetention = cmp.Or(cfg.MetricsRetention, time.Hour)
	cfg.MetricsResolution = cmp.Or(cfg.MetricsResolution, time.Second)
	cfg.SampleCapacity = cmp.Or(cfg.SampleCapacity, 100000)
	if cfg.AsyncRetryDelays == nil {
		cfg.AsyncRetryDelays = []time.Duration{time.Minute, 2 * time.Minute}
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "sluice-locallambda-")
		if err != nil {
			log.Error("local lambda: create a temporary data directory", "err", err)
		}
		cfg.DataDir = dir
	}
	iv := &Invoker{
		cfg:       cfg,
		log:       log,
		metrics:   newMetrics(cfg.MetricsRetention, cfg.MetricsResolution, cfg.SampleCapacity),
		functions: make(map[string]*fnState),
		stop:      make(chan struct{}),
	}
	iv.rt.dir = filepath.Join(cfg.DataDir, "runtime")
	iv.async = newAsyncQueue(iv, filepath.Join(cfg.DataDir, "async"))
	iv.wg.Add(1)
	go iv.reapLoop()
	return iv
}

// Close stops the Event queue (queued events stay on disk and run after a
// restart), kills every environment, failing the invocations in flight, and
// waits for the Invoker's goroutines.
func (iv *Invoker) Close() error {
	iv.mu.Lock()
	if iv.closed {
		iv.mu.Unlock()
		return nil
	}
	iv.closed = true
	close(iv.stop)
	iv.mu.Unlock()

	iv.async.stopDispatch()
	iv.killAll()
	iv.async.wait()
	iv.wg.Wait()
	// Environments that an invoke was starting while the first sweep ran.
	// (No environment starts after stop is closed; a running one is stopped
	// when its invocation ends.)
	iv.killAll()
	iv.envs.Wait()
	return nil
}

func (iv *Invoker) killAll() {
	iv.mu.RLock()
	fns := slices.Collect(maps.Values(iv.functions))
	iv.mu.RUnlock()
	for _, fs := range fns {
		fs.retire("")
		fs.killAll()
	}
}

// Retire stops the environments of a function's version; version "" means
// every version of the function. Idle environments stop at once, busy ones
// when their invocation ends. The control plane calls it when a version is
// deleted or $LATEST's code or configuration changes (the pool also notices
// a changed spec by itself).
func (iv *Invoker) Retire(functionName, version string) {
	name := functionNameOf(functionName)
	iv.mu.Lock()
	fs := iv.functions[name]
	if fs != nil && version == "" {
		// A deleted function's reserved concurrency no longer counts
		// against the account; a later invoke sets it again.
		iv.setReserved(fs, nil)
	}
	iv.mu.Unlock()
	if fs != nil {
		fs.retire(version)
	}
}

// ServeInvoke serves the whole Invoke operation for functionName (as it
// appeared in the path, percent-decoded) and qualifier (the Qualifier query
// parameter, "" if absent).
func (iv *Invoker) ServeInvoke(w http.ResponseWriter, r *http.Request, functionName, qualifier string) {
	if err := iv.serveInvoke(w, r, functionName, qualifier); err != nil {
		awserr.Write(w, err)
	}
}

func (iv *Invoker) serveInvoke(w http.ResponseWriter, r *http.Request, functionName, qualifier string) error {
	if iv.isClosed() {
		return &awserr.Error{Status: http.StatusInternalServerError, Type: awserr.TypeService, Message: "The local Lambda is shutting down."}
	}
	invType := r.Header.Get("X-Amz-Invocation-Type")
	limit := maxSyncPayload
	switch invType {
	case "", "RequestResponse":
		invType = "RequestResponse"
	case "Event":
		limit = maxAsyncPayload
	case "DryRun":
	default:
		return awserr.Validation(invType, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		return awserr.Validation(logType, "logType", "Member must satisfy enum value set: [None, Tail]")
	}
	payload, err := readPayload(r.Body, r.ContentLength, limit)
	if err != nil {
		return err
	}
	clientContext, err := decodeClientContext(r.Header.Get("X-Amz-Client-Context"))
	if err != nil {
		return err
	}

	target, err := iv.cfg.Resolver.ResolveInvoke(r.Context(), functionName, qualifier)
	if err != nil {
		return err
	}
	if target == nil || target.Primary == nil {
		return awserr.ResourceNotFound("Function not found: %s", functionName)
	}
	if target.State != "" && target.State != "Active" {
		return awserr.ResourceConflict("The operation cannot be performed at this time. The function is currently in the following state: %s", target.State)
	}

	switch invType {
	case "DryRun":
		w.Header().Set("X-Amz-Executed-Version", target.Primary.Version)
		w.WriteHeader(http.StatusNoContent)
		return nil
	case "Event":
		id := uuid.NewString()
		if err := iv.async.enqueue(asyncEvent{
			ID: id, Function: functionName, Qualifier: qualifier, Payload: payload,
			ClientContext: clientContext, Enqueued: iv.cfg.Now(),
		}); err != nil {
			return fmt.Errorf("queue the event for %s: %w", target.Primary.Name, err)
		}
		w.Header().Set("X-Amzn-Requestid", id)
		w.WriteHeader(http.StatusAccepted)
		return nil
	}

	out := iv.invoke(target, invocationInput{
		payload:       payload,
		clientContext: clientContext,
		traceID:       r.Header.Get("X-Amzn-Trace-Id"),
		tail:          logType == "Tail",
	})
	defer out.free(iv)
	if out.err != nil {
		return out.err
	}
	h := w.Header()
	h["X-Amzn-Requestid"] = []string{out.requestID}
	h["X-Amz-Executed-Version"] = []string{out.version}
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(out.body))}
	if out.functionError != "" {
		h["X-Amz-Function-Error"] = []string{out.functionError}
	}
	if out.logTail != nil {
		h["X-Amz-Log-Result"] = []string{base64.StdEncoding.EncodeToString(out.logTail)}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.body)
	return nil
}

// readPayload reads an Invoke body of at most limit bytes; an empty body
// is the event {} as on AWS. size is the body's Content-Length, -1 when
// unknown: a body of known size is read into one buffer of that size (for
// a 6 MB payload io.ReadAll allocates 15 MB in 31 pieces and takes 2.7
// times as long), and one known to be too large is refused unread.
func readPayload(body io.Reader, size int64, limit int) ([]byte, error) {
	tooLarge := func() error {
		return &awserr.Error{Status: http.StatusRequestEntityTooLarge, Type: awserr.TypeRequestTooLarge,
			Message: fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit)}
	}
	if size > int64(limit) {
		return nil, tooLarge()
	}
	var buf []byte
	var err error
	if size >= 0 {
		buf = make([]byte, size)
		_, err = io.ReadFull(body, buf)
	} else {
		buf, err = io.ReadAll(io.LimitReader(body, int64(limit)+1))
	}
	if err != nil {
		return nil, fmt.Errorf("read the invoke payload: %w", err)
	}
	if len(buf) > limit {
		return nil, tooLarge()
	}
	if len(bytes.TrimSpace(buf)) == 0 {
		return []byte("{}"), nil
	}
	if !json.Valid(buf) {
		return nil, &awserr.Error{Status: http.StatusBadRequest, Type: awserr.TypeInvalidRequestContent,
			Message: "Could not parse request body into json: the payload is not valid JSON"}
	}
	return buf, nil
}

// decodeClientContext turns the X-Amz-Client-Context header (base64 JSON)
// into the JSON the Runtime API passes on.
func decodeClientContext(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if len(h) > maxClientContext {
		return "", awserr.InvalidParameter("Client context must be at most %d bytes of base64; got %d.", maxClientContext, len(h))
	}
	raw, err := base64.StdEncoding.DecodeString(h)
	var compact bytes.Buffer
	if err == nil {
		// Compact: the JSON travels in a header line to the runtime.
		err = json.Compact(&compact, raw)
	}
	if err != nil {
		return "", awserr.InvalidParameter("Client context must be a valid Base64-encoded JSON object.")
	}
	return compact.String(), nil
}

func (iv *Invoker) isClosed() bool {
	select {
	case <-iv.stop:
		return true
	default:
		return false
	}
}

// invocationInput is what an invocation carries beyond its target.
type invocationInput struct {
	payload       []byte
	clientContext string
	traceID       string
	tail          bool
	// maxTimeout, if positive, caps the function's own timeout (a
	// Lambda@Edge event type's limit).
	maxTimeout time.Duration
}

// invokeOutcome is the result of one invocation as the caller renders it.
type invokeOutcome struct {
	requestID string
	version   string
	// body is the response payload or, with functionError set, the error JSON.
	body          []byte
	functionError string
	timedOut      bool
	logTail       []byte
	// err is a request-level error (a throttle) rendered as an AWS error.
	err error
	// buf holds body when it came from the buffer pool; free returns it.
	buf *bytes.Buffer
	// series is where the invocation was counted.
	series *seriesMetrics
}

func (o *invokeOutcome) free(iv *Invoker) {
	iv.putBuffer(o.buf)
	o.buf, o.body = nil, nil
}

// invoke runs one invocation of target synchronously: draw the version,
// admit it, run it on an environment of that version's pool.
func (iv *Invoker) invoke(target *Target, in invocationInput) invokeOutcome {
	spec := target.Primary
	if target.Additional != nil && target.AdditionalWeight > 0 && iv.cfg.Rand() < target.AdditionalWeight {
		spec = target.Additional
	}
	requestID := uuid.New()
	out := invokeOutcome{requestID: requestID.String(), version: spec.Version}
	sm := iv.metrics.series(spec.Name, qualifierOf(target.InvokedARN), spec.Version)
	out.series = sm

	fs := iv.function(spec)
	slot, err := iv.admit(fs, spec)
	if err != nil {
		sm.throttle(iv.cfg.Now())
		out.err = err
		return out
	}
	defer iv.releaseSlot(fs, slot)
	sm.concurrent.Inc()
	defer sm.concurrent.Dec()

	inv := &invocation{
		id:            out.requestID,
		payload:       in.payload,
		arn:           target.InvokedARN,
		traceID:       cmp.Or(in.traceID, traceIDFor(requestID)),
		clientContext: in.clientContext,
		timeout:       cmp.Or(spec.Timeout, defaultTimeout),
	}
	if in.maxTimeout > 0 && inv.timeout > in.maxTimeout {
		inv.timeout = in.maxTimeout
	}
	if in.tail || iv.log.Enabled(context.Background(), slog.LevelDebug) {
		inv.log = &logBuffer{}
	}
	started := time.Now()
	res := iv.run(fs, spec, inv)
	elapsed := time.Since(started)

	if res.apiErr != nil {
		out.err = res.apiErr
		return out
	}
	out.body = res.body
	out.buf = res.buf
	if res.errorType != "" {
		out.functionError = "Unhandled"
	}
	out.timedOut = res.timedOut
	sm.record(iv.cfg.Now(), res.errorType != "", res.timedOut, res.duration)
	if inv.log != nil {
		full := iv.invocationLog(spec, inv, res, elapsed)
		if in.tail {
			out.logTail = tail(full, logTailBytes)
		}
		if iv.log.Enabled(context.Background(), slog.LevelDebug) {
			iv.log.Debug("function log", "function", spec.Name, "version", spec.Version, "requestId", inv.id, "log", string(full))
		}
	}
	return out
}

// run runs inv on an environment of spec's pool, retrying on another
// environment when the chosen one died before it took the invocation.
func (iv *Invoker) run(fs *fnState, spec *FunctionSpec, inv *invocation) runResult {
	p := fs.pool(spec)
	for attempt := 0; ; attempt++ {
		env, err := p.acquire(spec)
		if err != nil {
			return startFailure(inv, err)
		}
		res := env.run(inv, spec, iv.cfg.InitTimeout)
		if res.kind == runNotDelivered && attempt < 3 {
			p.discard(env)
			inv.resetDelivery()
			continue
		}
		if res.kind == runDone && !res.processLost {
			p.release(env)
		} else {
			p.discard(env)
		}
		return res
	}
}

// invocationLog renders the invocation's log as AWS writes it: START, the
// function's output, END and REPORT (plus the timeout or exit line).
func (iv *Invoker) invocationLog(spec *FunctionSpec, inv *invocation, res runResult, elapsed time.Duration) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "START RequestId: %s Version: %s\n", inv.id, spec.Version)
	b.Write(inv.log.bytes())
	if res.logLine != "" {
		b.WriteString(res.logLine)
		b.WriteByte('\n')
	}
	d := res.duration
	if d == 0 {
		d = elapsed
	}
	ms := float64(d) / float64(time.Millisecond)
	billed := (d + time.Millisecond - 1) / time.Millisecond
	mem := cmp.Or(spec.MemoryMB, defaultMemoryMB)
	fmt.Fprintf(&b, "END RequestId: %s\n", inv.id)
	fmt.Fprintf(&b, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		inv.id, ms, billed, mem, res.maxMemoryMB)
	if res.initDuration > 0 {
		fmt.Fprintf(&b, "Init Duration: %.2f ms\t", float64(res.initDuration)/float64(time.Millisecond))
	}
	b.WriteByte('\n')
	if res.timedOut {
		fmt.Fprintf(&b, "%s %s Task timed out after %.2f seconds\n", iv.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"), inv.id, inv.timeout.Seconds())
	}
	return b.Bytes()
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// traceIDFor builds an X-Ray trace header for an invocation that arrived
// without one: Root=1-<8 hex seconds>-<24 hex>;Parent=<16 hex>;Sampled=0.
func traceIDFor(id uuid.UUID) string {
	const hexdigits = "0123456789abcdef"
	var b [76]byte
	n := copy(b[:], "Root=1-")
	sec := uint32(time.Now().Unix())
	for i := 7; i >= 0; i-- {
		b[n+i] = hexdigits[sec&0xf]
		sec >>= 4
	}
	n += 8
	b[n] = '-'
	n++
	for _, c := range id[:12] {
		b[n], b[n+1] = hexdigits[c>>4], hexdigits[c&0xf]
		n += 2
	}
	n += copy(b[n:], ";Parent=")
	for _, c := range id[8:16] {
		b[n], b[n+1] = hexdigits[c>>4], hexdigits[c&0xf]
		n += 2
	}
	n += copy(b[n:], ";Sampled=0")
	return string(b[:n])
}

// functionNameOf extracts the function name from a name, a full or partial
// ARN, with or without a qualifier.
func functionNameOf(s string) string {
	parts := strings.Split(s, ":")
	for i, p := range parts {
		if p == "function" && i+1 < len(parts) {
			return parts[i+1]
		}
	}
	return parts[0]
}

// qualifierOf returns the qualifier of an invoked ARN
// (arn:aws:lambda:region:account:function:name[:qualifier]), "" if none.
func qualifierOf(arn string) string {
	i := strings.Index(arn, ":function:")
	if i < 0 {
		return ""
	}
	rest := arn[i+len(":function:"):]
	if j := strings.IndexByte(rest, ':'); j >= 0 {
		return rest[j+1:]
	}
	return ""
}
