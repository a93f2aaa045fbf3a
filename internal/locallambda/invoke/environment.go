package invoke

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// environment is one execution environment: a child process speaking the
// Runtime API to its own loopback listener. It runs one invocation at a time.
type environment struct {
	iv      *Invoker
	pool    *pool
	spec    *FunctionSpec
	cmd     *exec.Cmd
	ln      net.Listener // the Runtime API listener
	logR    *os.File
	logW    *os.File // our copy of the output pipe's write end, for flush markers
	started time.Time
	stream  string // AWS_LAMBDA_LOG_STREAM_NAME

	// The channels an invocation waits on; they live as long as the
	// environment, so an invoke allocates none.
	done     chan struct{} // the dispatched invocation completed (buffered 1)
	taken    chan struct{} // a GET /next took the dispatched invocation (buffered 1)
	flushed  chan struct{} // the log reader reached a flush marker (buffered 1)
	exited   chan struct{} // closed when the process has exited
	logDone  chan struct{} // closed when the log reader has finished
	stopping chan struct{} // closed by stop
	stopOnce sync.Once
	timer    *time.Timer // the invocation deadline, reused

	mu          sync.Mutex
	inv         *invocation  // the dispatched invocation, nil when idle
	waiting     *runtimeConn // a connection whose GET /next awaits an event
	conns       map[*runtimeConn]struct{}
	closedConns bool
	ready       bool // the process has asked for its first event
	readyAt     time.Time
	initErr     []byte // body of /runtime/init/error
	exitErr     error  // cmd.Wait's result, set before exited closes
	idleSince   time.Time
}

// invocation is one event on its way through an environment. Fields below
// mu are guarded by the environment's mu.
type invocation struct {
	id            string
	payload       []byte
	arn           string
	traceID       string
	clientContext string
	timeout       time.Duration
	log           *logBuffer // nil unless the log is wanted (Tail or Debug)

	delivered   bool // a GET /next took it
	deliveredAt time.Time
	completed   bool // /response or /error arrived
	completedAt time.Time
	resp        *bytes.Buffer // response or error body
	errorType   string        // "" for a success
}

func (inv *invocation) resetDelivery() {
	inv.delivered, inv.completed = false, false
	inv.deliveredAt, inv.completedAt = time.Time{}, time.Time{}
	if inv.log != nil {
		inv.log.reset()
	}
}

// startEnvironment starts a process for spec and returns as soon as it runs;
// the first invocation waits for its first GET /next.
func (iv *Invoker) startEnvironment(p *pool, spec *FunctionSpec) (*environment, error) {
	if !filepath.IsAbs(spec.CodeDir) {
		abs, err := filepath.Abs(spec.CodeDir)
		if err != nil {
			return nil, fmt.Errorf("locate the code of %s: %w", spec.Name, err)
		}
		cp := *spec
		cp.CodeDir = abs
		spec = &cp
	}
	path, args, extraEnv, err := iv.command(spec)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the runtime API of %s: %w", spec.Name, err)
	}
	logR, logW, err := os.Pipe()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("create the output pipe of %s: %w", spec.Name, err)
	}
	now := iv.cfg.Now()
	sid := uuid.New()
	e := &environment{
		iv:       iv,
		pool:     p,
		spec:     spec,
		logR:     logR,
		logW:     logW,
		stream:   now.UTC().Format("2006/01/02") + "/[" + spec.Version + "]" + hex.EncodeToString(sid[:]),
		ln:       ln,
		conns:    make(map[*runtimeConn]struct{}),
		done:     make(chan struct{}, 1),
		taken:    make(chan struct{}, 1),
		flushed:  make(chan struct{}, 1),
		exited:   make(chan struct{}),
		logDone:  make(chan struct{}),
		stopping: make(chan struct{}),
		timer:    time.NewTimer(time.Hour),
	}
	e.timer.Stop()

	cmd := exec.Command(path, args...)
	cmd.Dir = spec.CodeDir
	cmd.Env = iv.environ(spec, ln.Addr().String(), e.stream, extraEnv)
	cmd.Stdout = logW
	cmd.Stderr = logW
	cmd.SysProcAttr = sysProcAttr()
	e.cmd = cmd

	e.started = time.Now()
	cpus := cpusFor(spec.MemoryMB)
	if err := startProcess(cmd, cpus, iv.cpuTurn.Add(uint32(cpus))); err != nil {
		ln.Close()
		logR.Close()
		logW.Close()
		return nil, &startError{err: err}
	}
	p.track(e)
	iv.envs.Add(1)
	go e.acceptLoop(ln)
	go e.readLogs()
	go e.wait()
	iv.metrics.coldStarts.WithLabelValues(spec.Name, spec.Version).Inc()
	return e, nil
}

// mbPerCPU is the memory size at which AWS gives a function the
// equivalent of one full vCPU; CPU grows in proportion to memory.
const mbPerCPU = 1769

// cpusFor is how many CPUs an environment of memoryMB may run on: the
// vCPUs AWS's allocation amounts to, rounded up, so that below 1,769 MB
// a function runs on one CPU (a runtime sizes its threads by it, as Go
// does) and many environments share the machine's CPUs evenly.
func cpusFor(memoryMB int) int {
	return max(1, (memoryMB+mbPerCPU-1)/mbPerCPU)
}

// startError is a failure to start the process at all (a missing or
// non-executable bootstrap); it becomes Runtime.InvalidEntrypoint.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }

// wait reaps the process, then releases the listener and the pipe.
func (e *environment) wait() {
	defer e.iv.envs.Done()
	// Kill what the runtime left behind (it would hold the output pipe open)
	// while the exited leader is still a zombie, so its pid, the group's
	// id, cannot have been reused.
	awaitExit(e.cmd.Process.Pid)
	killGroup(e.cmd.Process)
	err := e.cmd.Wait()
	e.mu.Lock()
	e.exitErr = err
	e.mu.Unlock()
	close(e.exited)
	e.pool.forget(e)
	_ = e.ln.Close()
	e.closeConns()
	_ = e.logW.Close()
	<-e.logDone
	_ = e.logR.Close()
}

// stop kills the process group; wait does the rest.
func (e *environment) stop() {
	e.stopOnce.Do(func() {
		close(e.stopping)
		killGroup(e.cmd.Process)
	})
}

func (e *environment) isDead() bool {
	select {
	case <-e.exited:
		return true
	case <-e.stopping:
		return true
	default:
		return false
	}
}

type runKind int

const (
	runDone         runKind = iota // the invocation ran (successfully or not)
	runNotDelivered                // the process died before taking it: retry elsewhere
)

// runResult is what became of one invocation on one environment.
type runResult struct {
	kind         runKind
	body         []byte
	buf          *bytes.Buffer // pooled buffer behind body, if any
	errorType    string        // "" for a success
	duration     time.Duration
	initDuration time.Duration // on a cold start
	maxMemoryMB  int
	timedOut     bool
	processLost  bool   // the environment must not be reused
	logLine      string // a line the platform adds to the log (exit reason)
	apiErr       error  // the invocation could not run at all; rendered as an AWS error
}

// run dispatches inv to the environment and waits for its outcome: the
// runtime's response or error, the deadline, or the process's exit.
//
// A cold start has two limits, as on AWS: the init phase, from the
// process's start to its first GET /next, has initTimeout; the
// invocation's own timeout counts from when the runtime takes the event
// (its Lambda-Runtime-Deadline-Ms). The timer first holds whichever limit
// applies now and moves to the invocation's deadline when the event is
// taken.
func (e *environment) run(inv *invocation, spec *FunctionSpec, initTimeout time.Duration) runResult {
	cold := e.dispatch(inv)
	if cold {
		e.timer.Reset(time.Until(e.started.Add(initTimeout)))
	} else {
		e.timer.Reset(inv.timeout)
	}
	defer e.timer.Stop()
	for {
		select {
		case <-e.done:
			return e.finish(inv, cold, false)
		case <-e.exited:
			return e.exitedDuring(inv, cold)
		case <-e.taken:
			e.mu.Lock()
			delivered, at := inv.delivered, inv.deliveredAt
			e.mu.Unlock()
			if delivered {
				e.timer.Reset(time.Until(at.Add(inv.timeout)))
			}
		case <-e.timer.C:
			e.mu.Lock()
			delivered, at, completed, ready := inv.delivered, inv.deliveredAt, inv.completed, e.ready
			e.mu.Unlock()
			if completed {
				continue // done is signalled
			}
			if delivered {
				if remaining := time.Until(at.Add(inv.timeout)); remaining > 0 {
					e.timer.Reset(remaining)
					continue
				}
			}
			if !ready {
				return e.initTimedOut(inv, initTimeout)
			}
			return e.timedOut(inv)
		}
	}
}

// finish collects a completed invocation.
func (e *environment) finish(inv *invocation, cold, lost bool) runResult {
	if inv.log != nil {
		e.flushLogs()
	}
	e.mu.Lock()
	res := runResult{
		kind:        runDone,
		buf:         inv.resp,
		errorType:   inv.errorType,
		duration:    inv.completedAt.Sub(inv.deliveredAt),
		processLost: lost,
	}
	if cold {
		res.initDuration = e.readyAt.Sub(e.started)
	}
	e.inv = nil
	e.mu.Unlock()
	if res.buf != nil {
		res.body = res.buf.Bytes()
	}
	if inv.log != nil {
		res.maxMemoryMB = maxMemoryMB(e.cmd.Process.Pid)
	}
	return res
}

// exitedDuring handles the process exiting while inv was dispatched.
func (e *environment) exitedDuring(inv *invocation, cold bool) runResult {
	e.mu.Lock()
	completed, delivered, ready, initErr, exitErr := inv.completed, inv.delivered, e.ready, e.initErr, e.exitErr
	e.mu.Unlock()
	switch {
	case completed:
		// It answered and then exited, as aws-lambda-go does after a panic.
		return e.finish(inv, cold, true)
	case !delivered && ready && !cold:
		return runResult{kind: runNotDelivered}
	case !ready && initErr != nil:
		e.flushLogs()
		e.clearInv()
		return failure(initErr, errorTypeOf(initErr), "", false)
	}
	reason := exitReason(exitErr)
	msg := fmt.Sprintf("RequestId: %s Error: %s", inv.id, reason)
	e.flushLogs()
	e.clearInv()
	res := failure(errorJSON("Runtime.ExitError", msg), "Runtime.ExitError", msg+"\nRuntime.ExitError", false)
	if delivered {
		res.duration = time.Since(inv.deliveredAt)
	}
	return res
}

// timedOut kills the environment after inv overran its deadline.
func (e *environment) timedOut(inv *invocation) runResult {
	e.stop()
	<-e.exited
	e.flushLogs()
	e.clearInv()
	msg := fmt.Sprintf("%s %s Task timed out after %.2f seconds",
		e.iv.cfg.Now().UTC().Format("2006-01-02T15:04:05.000Z"), inv.id, inv.timeout.Seconds())
	body, _ := json.Marshal(map[string]string{"errorMessage": msg})
	res := failure(body, "Sandbox.Timedout", "", true)
	res.duration = inv.timeout
	return res
}

// initTimedOut kills an environment that did not reach GET /next in time.
func (e *environment) initTimedOut(inv *invocation, initTimeout time.Duration) runResult {
	e.stop()
	<-e.exited
	e.flushLogs()
	e.clearInv()
	msg := fmt.Sprintf("RequestId: %s Error: Runtime failed to start within %.2f seconds (init timeout)", inv.id, initTimeout.Seconds())
	return failure(errorJSON("Runtime.InitTimeout", msg), "Runtime.InitTimeout", msg, false)
}

func (e *environment) clearInv() {
	e.mu.Lock()
	e.inv = nil
	e.mu.Unlock()
}

// failure is a runResult for an invocation the platform failed.
func failure(body []byte, errorType, logLine string, timedOut bool) runResult {
	return runResult{kind: runDone, body: body, errorType: errorType, logLine: logLine, timedOut: timedOut, processLost: true}
}

// startFailure is the result of an invocation whose process did not
// start: a package without a usable entry point is a function error, as on
// AWS (Runtime.InvalidEntrypoint); a runtime this machine cannot run is
// InvalidRuntimeException; anything else a ServiceException.
func startFailure(inv *invocation, err error) runResult {
	var se *startError
	switch {
	case errors.As(err, &se):
		msg := fmt.Sprintf("RequestId: %s Error: %v", inv.id, se.err)
		return failure(errorJSON("Runtime.InvalidEntrypoint", msg), "Runtime.InvalidEntrypoint", msg+"\nRuntime.InvalidEntrypoint", false)
	case errors.Is(err, errRuntimeUnavailable):
		msg := strings.TrimPrefix(err.Error(), errRuntimeUnavailable.Error()+": ")
		return runResult{kind: runDone, apiErr: &awserr.Error{Status: http.StatusBadGateway, Type: "InvalidRuntimeException", Message: msg}}
	}
	return runResult{kind: runDone, apiErr: err}
}

func exitReason(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "Runtime exited without providing a reason"
	case errors.As(err, &ee):
		return "Runtime exited with error: " + ee.ProcessState.String()
	default:
		return "Runtime exited with error: " + err.Error()
	}
}

func errorJSON(errorType, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{errorType, msg})
	return b
}

// errorTypeOf reads "errorType" from a runtime's error body.
func errorTypeOf(body []byte) string {
	var eb struct {
		ErrorType string `json:"errorType"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.ErrorType != "" {
		return eb.ErrorType
	}
	return "Unhandled"
}

// flushMarker is written into the output pipe behind the function's own
// output; when the reader reaches it, everything the function wrote before
// its response has been attributed. It starts with a newline so that it
// always begins a line of its own.
var flushMarker = []byte("\n\x00sluice-flush\x00\n")

// flushLogs waits until the log reader has read everything written to the
// pipe so far.
func (e *environment) flushLogs() {
	if _, err := e.logW.Write(flushMarker); err != nil {
		<-e.logDone // the pipe is closing: the reader drains it to EOF
		return
	}
	select {
	case <-e.flushed:
	case <-e.logDone:
	}
}

// readLogs attributes the process's output, line by line, to the invocation
// in progress.
func (e *environment) readLogs() {
	defer close(e.logDone)
	br := bufio.NewReaderSize(e.logR, 16<<10)
	held := false // an empty line, held back in case a flush marker follows
	debug := e.iv.log.Enabled(context.Background(), slog.LevelDebug)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case len(line) == 0:
		case bytes.Equal(line, flushMarker[1:]):
			held = false
			select {
			case e.flushed <- struct{}{}:
			default:
			}
		case len(line) == 1 && line[0] == '\n' && err == nil:
			if held {
				e.attribute([]byte("\n"), debug)
			}
			held = true
		default:
			if held {
				e.attribute([]byte("\n"), debug)
				held = false
			}
			e.attribute(line, debug)
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

func (e *environment) attribute(line []byte, debug bool) {
	e.mu.Lock()
	inv := e.inv
	if inv != nil && inv.log != nil {
		inv.log.write(line)
		e.mu.Unlock()
		return
	}
	e.mu.Unlock()
	if debug {
		e.iv.log.Debug("function output", "function", e.spec.Name, "version", e.spec.Version,
			"line", string(bytes.TrimRight(line, "\n")))
	}
}

// logBuffer keeps the last logBufferCap bytes an invocation wrote.
type logBuffer struct{ b []byte }

const logBufferCap = 16 << 10

func (l *logBuffer) write(p []byte) {
	l.b = append(l.b, p...)
	if len(l.b) > 2*logBufferCap {
		n := copy(l.b, l.b[len(l.b)-logBufferCap:])
		l.b = l.b[:n]
	}
}

func (l *logBuffer) bytes() []byte {
	b := tail(l.b, logBufferCap)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b[:len(b):len(b)], '\n')
	}
	return b
}

func (l *logBuffer) reset() { l.b = l.b[:0] }

// environ builds a process environment as Lambda does: the function's own
// variables, then the reserved ones, which win.
func (iv *Invoker) environ(spec *FunctionSpec, runtimeAPI, stream string, extra []string) []string {
	memory := spec.MemoryMB
	if memory == 0 {
		memory = defaultMemoryMB
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	reserved := []string{
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"_HANDLER=" + spec.Handler,
		"AWS_LAMBDA_FUNCTION_NAME=" + spec.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=" + spec.Version,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memory),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + spec.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + stream,
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=" + iv.cfg.Region,
		"AWS_DEFAULT_REGION=" + iv.cfg.Region,
		"LAMBDA_TASK_ROOT=" + spec.CodeDir,
		"LAMBDA_RUNTIME_DIR=" + iv.rt.dir,
		"TZ=UTC",
		"LANG=en_US.UTF-8",
		"PATH=" + path,
		// Dummy credentials, so SDKs inside the function find some.
		"AWS_ACCESS_KEY_ID=LOCALLAMBDAEXAMPLEKEY",
		"AWS_SECRET_ACCESS_KEY=local-lambda-example-secret",
		"AWS_SESSION_TOKEN=local-lambda-example-token",
	}
	if k := kindOf(spec.Runtime); k != kindProvided {
		reserved = append(reserved, "AWS_EXECUTION_ENV=AWS_Lambda_"+spec.Runtime)
	}
	reserved = append(reserved, extra...)
	isReserved := make(map[string]bool, len(reserved))
	for _, kv := range reserved {
		k, _, _ := cutEnv(kv)
		isReserved[k] = true
	}
	env := make([]string, 0, len(spec.Env)+len(reserved))
	for k, v := range spec.Env {
		if !isReserved[k] {
			env = append(env, k+"="+v)
		}
	}
	return append(env, reserved...)
}

func cutEnv(kv string) (string, string, bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

// getBuffer takes a response buffer from the Invoker's pool.
func (iv *Invoker) getBuffer() *bytes.Buffer {
	if b, ok := iv.buffers.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

// putBuffer recycles a response buffer; large ones are left to the GC.
func (iv *Invoker) putBuffer(b *bytes.Buffer) {
	if b == nil || b.Cap() > 1<<20 {
		return
	}
	b.Reset()
	iv.buffers.Put(b)
}
