package invoke

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
	"unsafe"
)

// Per-request samples, beside the time series: a canary judge compares the
// distributions of two versions, and a time series of per-step counts and
// histogram estimates throws most of that away. Every invocation that ran
// or was throttled leaves one Sample in a ring of its (function, alias,
// version); the ring holds the newest SampleCapacity samples and Samples
// returns only those younger than the retention, so memory is bounded by
// both: 16 bytes a sample (sampleSize), at most 1.6 MB a series at the
// default 100,000, allocated as the series fills and released with its time
// series when idle for the whole retention window.

// Outcome is how one invocation ended, as a canary counts it.
type Outcome string

const (
	// OutcomeOK is an invocation that returned a response.
	OutcomeOK Outcome = "ok"
	// OutcomeError is a function error other than a timeout: a handler
	// error, a crash, an init failure, an oversized response.
	OutcomeError Outcome = "error"
	// OutcomeTimeout is an invocation stopped at its timeout; its
	// duration is the timeout. Like AWS's Errors metric, a canary counts
	// it as an error.
	OutcomeTimeout Outcome = "timeout"
	// OutcomeThrottle is an invocation refused with
	// TooManyRequestsException; it has no duration.
	OutcomeThrottle Outcome = "throttle"
)

var outcomes = [...]Outcome{OutcomeOK, OutcomeError, OutcomeTimeout, OutcomeThrottle}

// Sample is one invocation of one version.
type Sample struct {
	// Time is when the invocation ended (or was refused).
	Time time.Time `json:"time"`
	// Duration is REPORT's Duration; 0 for a throttle.
	Duration time.Duration `json:"durationNanos"`
	Outcome  Outcome       `json:"outcome"`
}

// sample is a Sample as the ring stores it: the end time in Unix
// nanoseconds and the duration shifted left by two bits with the outcome's
// index in the low bits, so a sample costs two words and no pointer the
// garbage collector must scan.
type sample struct {
	at      int64
	durOutc int64
}

// sampleSize is the ring's memory per sample in bytes.
const sampleSize = int(unsafe.Sizeof(sample{}))

func packSample(at time.Time, d time.Duration, o int) sample {
	return sample{at: at.UnixNano(), durOutc: int64(d)<<2 | int64(o)}
}

func (s sample) unpack() Sample {
	return Sample{Time: time.Unix(0, s.at), Duration: time.Duration(s.durOutc >> 2), Outcome: outcomes[s.durOutc&3]}
}

// sampleRing keeps the newest capacity samples of one series. It grows by
// append up to capacity, then overwrites the oldest.
type sampleRing struct {
	mu       sync.Mutex
	capacity int
	buf      []sample
	next     int // where the next sample goes once buf is full
}

func (r *sampleRing) add(s sample) {
	if r.capacity <= 0 {
		return
	}
	r.mu.Lock()
	if len(r.buf) < r.capacity {
		if len(r.buf) == cap(r.buf) {
			// Grow by doubling, but never past capacity (append's growth
			// would overshoot it by up to a quarter).
			r.buf = slices.Grow(r.buf, min(max(2*cap(r.buf), 64), r.capacity)-len(r.buf))
		}
		r.buf = append(r.buf, s)
	} else {
		r.buf[r.next] = s
		r.next = (r.next + 1) % r.capacity
	}
	r.mu.Unlock()
}

// collect appends the samples with from <= at < to to dst, oldest first.
func (r *sampleRing) collect(dst []sample, from, to int64) []sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, part := range [2][]sample{r.buf[r.next:], r.buf[:r.next]} {
		// Each part is in time order (invocations end in nearly time
		// order; concurrent ones may swap by a few microseconds, which
		// the final sort puts right).
		for _, s := range part {
			if s.at >= from && s.at < to {
				dst = append(dst, s)
			}
		}
	}
	return dst
}

func (r *sampleRing) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf, r.next = nil, 0
}

// VersionSamples are one executed version's samples in a time range.
type VersionSamples struct {
	Version string `json:"version"`
	// Counts by outcome; Requests is their sum.
	Requests  int64 `json:"requests"`
	OK        int64 `json:"ok"`
	Errors    int64 `json:"errors"`
	Timeouts  int64 `json:"timeouts"`
	Throttles int64 `json:"throttles"`
	// DurationP50 and DurationP99 are exact (nearest rank) over the
	// invocations that ran (not throttles); 0 when none ran.
	DurationP50 time.Duration `json:"durationP50Nanos"`
	DurationP99 time.Duration `json:"durationP99Nanos"`
	// Samples, oldest first, when asked for.
	Samples []Sample `json:"samples,omitempty"`
}

// Samples returns, for each version of function fn invoked through
// qualifier (as Query selects them: an alias or version, "" for
// unqualified, "*" for all) and, unless version is "", only that executed
// version, the samples that ended in [since, until) and are younger than
// the retention. With raw the samples themselves are included, oldest
// first, per version. Versions are sorted as Query sorts them.
func (iv *Invoker) Samples(fn, qualifier, version string, since, until time.Time, raw bool) []VersionSamples {
	m := iv.metrics
	fn = functionNameOf(fn)
	since = maxTime(since, iv.cfg.Now().Add(-m.retention))
	if !until.After(since) {
		return []VersionSamples{}
	}
	m.mu.RLock()
	var matched []*seriesMetrics
	for k, s := range m.bySeries {
		if k.function == fn && (qualifier == "*" || k.alias == qualifier) && (version == "" || k.version == version) {
			matched = append(matched, s)
		}
	}
	m.mu.RUnlock()

	byVersion := map[string][]sample{}
	for _, s := range matched {
		byVersion[s.key.version] = s.samples.collect(byVersion[s.key.version], since.UnixNano(), until.UnixNano())
	}
	out := make([]VersionSamples, 0, len(byVersion))
	for v, ss := range byVersion {
		if len(ss) == 0 {
			continue
		}
		slices.SortFunc(ss, func(a, b sample) int { return cmp.Compare(a.at, b.at) })
		vs := VersionSamples{Version: v, Requests: int64(len(ss))}
		durs := make([]time.Duration, 0, len(ss))
		for _, s := range ss {
			switch outcomes[s.durOutc&3] {
			case OutcomeOK:
				vs.OK++
			case OutcomeError:
				vs.Errors++
			case OutcomeTimeout:
				vs.Timeouts++
			case OutcomeThrottle:
				vs.Throttles++
				continue
			}
			durs = append(durs, time.Duration(s.durOutc>>2))
		}
		if len(durs) > 0 {
			slices.Sort(durs)
			vs.DurationP50 = nearestRank(durs, 0.50)
			vs.DurationP99 = nearestRank(durs, 0.99)
		}
		if raw {
			vs.Samples = make([]Sample, len(ss))
			for i, s := range ss {
				vs.Samples[i] = s.unpack()
			}
		}
		out = append(out, vs)
	}
	slices.SortFunc(out, func(a, b VersionSamples) int { return compareVersions(a.Version, b.Version) })
	return out
}

// nearestRank is the q-quantile of sorted: its ⌈q·n⌉-th value.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted))-1e-9)) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
