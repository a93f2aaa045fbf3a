package invoke

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// fnState is the data plane's state for one function: its concurrency
// accounting and its pools, one per version.
type fnState struct {
	iv   *Invoker
	name string

	// inflight counts the function's running invocations (all versions);
	// reserved is its reserved concurrency, -1 when unreserved. Both are
	// guarded by mu, as is pools.
	mu       sync.Mutex
	inflight int
	reserved int
	pools    map[string]*pool
	// stopping holds retired pools whose environments are still stopping.
	stopping []*pool
}

// function returns the state of spec's function, creating it on first use,
// and keeps its reserved concurrency current.
func (iv *Invoker) function(spec *FunctionSpec) *fnState {
	iv.mu.RLock()
	fs := iv.functions[spec.Name]
	iv.mu.RUnlock()
	if fs == nil {
		iv.mu.Lock()
		fs = iv.functions[spec.Name]
		if fs == nil {
			fs = &fnState{iv: iv, name: spec.Name, reserved: -1, pools: make(map[string]*pool)}
			iv.functions[spec.Name] = fs
		}
		iv.mu.Unlock()
	}
	want := -1
	if spec.ReservedConcurrency != nil {
		want = max(*spec.ReservedConcurrency, 0)
	}
	fs.mu.Lock()
	same := fs.reserved == want
	fs.mu.Unlock()
	if !same {
		iv.mu.Lock()
		iv.setReserved(fs, spec.ReservedConcurrency)
		iv.mu.Unlock()
	}
	return fs
}

// setReserved changes a function's reserved concurrency and the account's
// sum of reservations. The caller holds iv.mu.
func (iv *Invoker) setReserved(fs *fnState, reserved *int) {
	want := -1
	if reserved != nil {
		want = max(*reserved, 0)
	}
	fs.mu.Lock()
	old := fs.reserved
	fs.reserved = want
	fs.mu.Unlock()
	iv.reservedSum.Add(int64(max(want, 0) - max(old, 0)))
}

// concurrencySlot records which limit admitted an invocation.
type concurrencySlot struct{ unreserved bool }

// admit takes a concurrency slot for one invocation of fs, or returns the
// TooManyRequestsException AWS answers: a function with reserved
// concurrency is bounded by it, every other function by what the account
// limit leaves after all reservations.
func (iv *Invoker) admit(fs *fnState, spec *FunctionSpec) (concurrencySlot, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.reserved >= 0 {
		if fs.inflight >= fs.reserved {
			return concurrencySlot{}, throttled("ReservedFunctionConcurrentInvocationLimitExceeded",
				fmt.Sprintf("Rate Exceeded. Function %s has a reserved concurrency of %d and all of it is in use.", spec.Name, fs.reserved))
		}
		fs.inflight++
		return concurrencySlot{}, nil
	}
	limit := int64(iv.cfg.AccountConcurrency) - iv.reservedSum.Load()
	for {
		cur := iv.unreserved.Load()
		if cur >= limit {
			return concurrencySlot{}, throttled("ConcurrentInvocationLimitExceeded",
				fmt.Sprintf("Rate Exceeded. The account's unreserved concurrency (%d) is in use.", max(limit, 0)))
		}
		if iv.unreserved.CompareAndSwap(cur, cur+1) {
			break
		}
	}
	fs.inflight++
	return concurrencySlot{unreserved: true}, nil
}

func (iv *Invoker) releaseSlot(fs *fnState, slot concurrencySlot) {
	fs.mu.Lock()
	fs.inflight--
	fs.mu.Unlock()
	if slot.unreserved {
		iv.unreserved.Add(-1)
	}
}

func throttled(reason, msg string) *awserr.Error {
	return &awserr.Error{Status: http.StatusTooManyRequests, Type: awserr.TypeTooManyRequests, Message: msg, Reason: reason}
}

// pool returns the pool for spec's version. A pool whose environments were
// started from a different spec (new code or configuration under the same
// version, as $LATEST sees) is retired and replaced.
func (fs *fnState) pool(spec *FunctionSpec) *pool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	p := fs.pools[spec.Version]
	if p != nil && sameProcess(p.spec, spec) {
		return p
	}
	if p != nil {
		fs.stopping = append(fs.stopping, p)
		p.retire()
	}
	p = &pool{fn: fs, version: spec.Version, spec: spec, all: make(map[*environment]struct{})}
	fs.pools[spec.Version] = p
	return p
}

// retire retires the pool of version, or every pool when version is "".
func (fs *fnState) retire(version string) {
	fs.mu.Lock()
	var retired []*pool
	for v, p := range fs.pools {
		if version == "" || v == version {
			delete(fs.pools, v)
			retired = append(retired, p)
		}
	}
	fs.stopping = append(fs.stopping, retired...)
	fs.mu.Unlock()
	for _, p := range retired {
		p.retire()
	}
}

// killAll stops every environment of the function, busy or not.
func (fs *fnState) killAll() {
	fs.mu.Lock()
	pools := slices.Collect(maps.Values(fs.pools))
	pools = append(pools, fs.stopping...)
	fs.mu.Unlock()
	for _, p := range pools {
		for _, e := range p.snapshot() {
			e.stop()
		}
	}
}

// sameProcess reports whether an environment started for a would run b
// unchanged: same code, runtime, handler, variables and memory size.
func sameProcess(a, b *FunctionSpec) bool {
	return a == b || (a.CodeSha256 == b.CodeSha256 && a.CodeDir == b.CodeDir && a.Runtime == b.Runtime &&
		a.Handler == b.Handler && a.MemoryMB == b.MemoryMB && a.ARN == b.ARN && maps.Equal(a.Env, b.Env))
}

// pool holds the execution environments of one function version.
type pool struct {
	fn      *fnState
	version string
	spec    *FunctionSpec

	mu      sync.Mutex
	idle    []*environment // a stack: the most recently used is reused first
	all     map[*environment]struct{}
	retired bool
}

// acquire returns an idle environment, or starts a new one. Admission has
// already bounded how many invocations, and so environments, run at once.
func (p *pool) acquire(spec *FunctionSpec) (*environment, error) {
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		e := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if !e.isDead() {
			p.mu.Unlock()
			return e, nil
		}
	}
	p.mu.Unlock()

	if p.fn.iv.isClosed() {
		return nil, &awserr.Error{Status: http.StatusInternalServerError, Type: awserr.TypeService, Message: "The local Lambda is shutting down."}
	}
	// A pool retired meanwhile still runs this invocation; release then
	// stops the environment.
	return p.fn.iv.startEnvironment(p, spec)
}

// track adds a started environment, before anything can forget it.
func (p *pool) track(e *environment) {
	p.mu.Lock()
	p.all[e] = struct{}{}
	p.mu.Unlock()
	p.fn.iv.metrics.environments.WithLabelValues(p.fn.name, p.version).Inc()
}

// release returns a healthy environment to the idle stack.
func (p *pool) release(e *environment) {
	now := time.Now()
	p.mu.Lock()
	if p.retired || e.isDead() || p.fn.iv.isClosed() {
		p.mu.Unlock()
		p.discard(e)
		return
	}
	e.idleSince = now
	p.idle = append(p.idle, e)
	p.mu.Unlock()
}

// discard stops an environment and forgets it.
func (p *pool) discard(e *environment) {
	e.stop()
	p.forget(e)
}

// forget removes an environment that has stopped from the pool.
func (p *pool) forget(e *environment) {
	p.mu.Lock()
	_, ok := p.all[e]
	delete(p.all, e)
	if i := slices.Index(p.idle, e); i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
	}
	p.mu.Unlock()
	if ok {
		p.fn.iv.metrics.environments.WithLabelValues(p.fn.name, p.version).Dec()
	}
}

// retire stops the idle environments now; busy ones stop on release.
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, e := range idle {
		p.discard(e)
	}
}

// snapshot lists the pool's environments.
func (p *pool) snapshot() []*environment {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Collect(maps.Keys(p.all))
}

// reapIdle stops environments idle since before cutoff and reports whether
// the pool is now empty.
func (p *pool) reapIdle(cutoff time.Time) (empty bool) {
	p.mu.Lock()
	var stale []*environment
	keep := p.idle[:0]
	for _, e := range p.idle {
		if e.idleSince.Before(cutoff) {
			stale = append(stale, e)
		} else {
			keep = append(keep, e)
		}
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	p.mu.Unlock()
	for _, e := range stale {
		p.discard(e)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.all) == 0
}

// reapLoop stops environments idle for longer than IdleTimeout and drops
// old metric series. It wakes a few times per IdleTimeout, not per invoke.
func (iv *Invoker) reapLoop() {
	defer iv.wg.Done()
	every := min(max(iv.cfg.IdleTimeout/4, 5*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-iv.stop:
			return
		case <-t.C:
			iv.reapIdle(time.Now().Add(-iv.cfg.IdleTimeout))
			iv.metrics.prune(iv.cfg.Now())
		}
	}
}

func (iv *Invoker) reapIdle(cutoff time.Time) {
	iv.mu.RLock()
	fns := slices.Collect(maps.Values(iv.functions))
	iv.mu.RUnlock()
	for _, fs := range fns {
		fs.mu.Lock()
		pools := slices.Collect(maps.Values(fs.pools))
		stopping := fs.stopping
		fs.mu.Unlock()
		for _, p := range pools {
			p.reapIdle(cutoff)
		}
		// Forget retired pools once their last environment is gone.
		var still []*pool
		for _, p := range stopping {
			if !p.reapIdle(cutoff) {
				still = append(still, p)
			}
		}
		fs.mu.Lock()
		if len(fs.stopping) == len(stopping) {
			fs.stopping = still
		}
		fs.mu.Unlock()
	}
}
