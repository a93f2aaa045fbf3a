package invoke

import (
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics, per function, alias (the qualifier as invoked, "" for none) and
// executed version; the names are documented in docs/local-lambda-metrics.md.
// Each invocation is recorded twice: in Prometheus collectors on the
// Invoker's own registry (Metrics), and in an in-memory time series per
// (function, alias, version) that Query reads.

const (
	metricsNamespace = "sluice"
	metricsSubsystem = "local_lambda"
)

type metrics struct {
	reg          *prometheus.Registry
	invocations  *prometheus.CounterVec
	errors       *prometheus.CounterVec
	throttles    *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	concurrent   *prometheus.GaugeVec
	coldStarts   *prometheus.CounterVec
	environments *prometheus.GaugeVec
	asyncQueued  prometheus.Gauge
	asyncDropped *prometheus.CounterVec
	// deliveryFailures counts dead-letter and destination deliveries that failed.
	deliveryFailures *prometheus.CounterVec
	// messages and messagesFailed count the SQS messages event source
	// mappings delivered, and those that failed (RecordMessages).
	messages       *prometheus.CounterVec
	messagesFailed *prometheus.CounterVec

	retention, resolution time.Duration
	sampleCapacity        int

	mu       sync.RWMutex
	bySeries map[seriesKey]*seriesMetrics
}

type seriesKey struct{ function, alias, version string }

// seriesMetrics is one (function, alias, version)'s collectors, resolved
// once so an invoke does not look its labels up again.
type seriesMetrics struct {
	key         seriesKey
	invocations prometheus.Counter
	errors      prometheus.Counter
	throttles   prometheus.Counter
	duration    prometheus.Observer
	concurrent  prometheus.Gauge
	messages    prometheus.Counter
	msgsFailed  prometheus.Counter
	ts          timeSeries
	samples     sampleRing
}

func newMetrics(retention, resolution time.Duration, sampleCapacity int) *metrics {
	labels := []string{"function", "alias", "version"}
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: name, Help: help}
	}
	m := &metrics{
		reg:         prometheus.NewRegistry(),
		invocations: prometheus.NewCounterVec(prometheus.CounterOpts(opts("invocations_total", "Invocations that ran (successfully or not), by function, alias as invoked and executed version.")), labels),
		errors:      prometheus.NewCounterVec(prometheus.CounterOpts(opts("errors_total", "Invocations that ended in a function error (handler error, timeout, crash, init failure).")), labels),
		throttles:   prometheus.NewCounterVec(prometheus.CounterOpts(opts("throttles_total", "Invocations refused with TooManyRequestsException.")), labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "duration_seconds",
			Help:    "Invocation duration as REPORT's Duration: from the runtime taking the event to its answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}, labels),
		concurrent:   prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("concurrent_executions", "Invocations running now.")), labels),
		coldStarts:   prometheus.NewCounterVec(prometheus.CounterOpts(opts("cold_starts_total", "Execution environments started.")), []string{"function", "version"}),
		environments: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("environments", "Execution environments alive (busy or idle).")), []string{"function", "version"}),
		asyncQueued:  prometheus.NewGauge(prometheus.GaugeOpts(opts("async_events_queued", "Event invocations waiting in the durable queue."))),
		asyncDropped: prometheus.NewCounterVec(prometheus.CounterOpts(opts("async_events_dropped_total", "Event invocations given up: reason retries_exhausted, expired or unresolvable.")), []string{"function", "reason"}),
		deliveryFailures: prometheus.NewCounterVec(prometheus.CounterOpts(opts("async_delivery_failures_total",
			"Dead-letter and destination deliveries of Event invocations that failed: target \"destination\" or \"dead-letter queue\".")), []string{"function", "target"}),
		messages:       prometheus.NewCounterVec(prometheus.CounterOpts(opts("messages_total", "SQS messages an event source mapping delivered to the version (each delivery of a message counts).")), labels),
		messagesFailed: prometheus.NewCounterVec(prometheus.CounterOpts(opts("messages_failed_total", "Delivered SQS messages that failed: a whole batch when the invocation failed, the batchItemFailures with ReportBatchItemFailures.")), labels),
		retention:      retention,
		resolution:     resolution,
		sampleCapacity: sampleCapacity,
		bySeries:       make(map[seriesKey]*seriesMetrics),
	}
	m.reg.MustRegister(m.invocations, m.errors, m.throttles, m.duration, m.concurrent,
		m.coldStarts, m.environments, m.asyncQueued, m.asyncDropped, m.deliveryFailures, m.messages, m.messagesFailed)
	return m
}

// Metrics serves the Invoker's metrics in the Prometheus exposition format.
func (iv *Invoker) Metrics() http.Handler {
	return promhttp.HandlerFor(iv.metrics.reg, promhttp.HandlerOpts{})
}

// series returns the collectors of (function, alias, version).
func (m *metrics) series(function, alias, version string) *seriesMetrics {
	k := seriesKey{function, alias, version}
	m.mu.RLock()
	s := m.bySeries[k]
	m.mu.RUnlock()
	if s != nil {
		return s
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s = m.bySeries[k]; s != nil {
		return s
	}
	s = &seriesMetrics{
		key:         k,
		invocations: m.invocations.WithLabelValues(function, alias, version),
		errors:      m.errors.WithLabelValues(function, alias, version),
		throttles:   m.throttles.WithLabelValues(function, alias, version),
		duration:    m.duration.WithLabelValues(function, alias, version),
		concurrent:  m.concurrent.WithLabelValues(function, alias, version),
		messages:    m.messages.WithLabelValues(function, alias, version),
		msgsFailed:  m.messagesFailed.WithLabelValues(function, alias, version),
		ts:          timeSeries{resolution: m.resolution, size: max(int(m.retention/m.resolution), 1)},
		samples:     sampleRing{capacity: m.sampleCapacity},
	}
	m.bySeries[k] = s
	return s
}

// record counts one invocation that ran; timedOut implies failed.
func (s *seriesMetrics) record(now time.Time, failed, timedOut bool, d time.Duration) {
	s.invocations.Inc()
	if failed {
		s.errors.Inc()
	}
	s.duration.Observe(d.Seconds())
	s.ts.add(now, 1, b2u(failed), 0, d)
	o := 0 // OutcomeOK; the indexes are those of outcomes
	switch {
	case timedOut:
		o = 2
	case failed:
		o = 1
	}
	s.samples.add(packSample(now, d, o))
}

// throttle counts one refused invocation.
func (s *seriesMetrics) throttle(now time.Time) {
	s.throttles.Inc()
	s.ts.add(now, 0, 0, 1, -1)
	s.samples.add(packSample(now, 0, 3))
}

// recordMessages counts SQS messages delivered in one invocation and
// those of them that failed.
func (s *seriesMetrics) recordMessages(now time.Time, messages, failed int) {
	s.messages.Add(float64(messages))
	s.msgsFailed.Add(float64(failed))
	s.ts.addMessages(now, uint32(messages), uint32(failed))
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// prune forgets the time series that hold nothing newer than the retention
// window. Their Prometheus series stay (counters must not go backwards).
func (m *metrics) prune(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.bySeries {
		if s.ts.lastBefore(now.Add(-m.retention)) {
			s.ts.release()
			s.samples.release()
		}
	}
}

// Point is one step of a VersionSeries. Durations are REPORT durations of
// the invocations that ran in the step.
type Point struct {
	Time          time.Time     `json:"time"`
	Invocations   int64         `json:"invocations"`
	Errors        int64         `json:"errors"`
	Throttles     int64         `json:"throttles"`
	DurationSum   time.Duration `json:"durationSumNanos"`
	DurationCount int64         `json:"durationCount"`
	// DurationP50 and DurationP99 are estimated from a log-scale histogram
	// with buckets about 9% wide; zero when nothing ran in the step.
	DurationP50 time.Duration `json:"durationP50Nanos"`
	DurationP99 time.Duration `json:"durationP99Nanos"`
	// Messages and MessagesFailed are the SQS messages event source
	// mappings delivered in the step's invocations, and those that
	// failed (Invoker.RecordMessages); zero for other invocations.
	Messages       int64 `json:"messages"`
	MessagesFailed int64 `json:"messagesFailed"`
}

// VersionSeries is the time series of one executed version.
type VersionSeries struct {
	Version string  `json:"version"`
	Points  []Point `json:"points"`
}

// Query returns, for each version of function fn that ran (or was
// throttled) when invoked with qualifier, a series of points every step
// from since up to until. Qualifier "" selects unqualified invocations,
// an alias name or version number the invocations through it, and "*"
// every invocation of fn. Steps are rounded up to the resolution (1 s by
// default); data older than the retention (1 h) is gone. Series are sorted
// by version; every series has the same points, zeros included.
func (iv *Invoker) Query(fn string, qualifier string, since, until time.Time, step time.Duration) []VersionSeries {
	m := iv.metrics
	fn = functionNameOf(fn)
	res := m.resolution
	step = max(((step+res-1)/res)*res, res)
	if !until.After(since) {
		return nil
	}
	n := int((until.Sub(since) + step - 1) / step)
	if n > 100000 {
		n = 100000
	}

	m.mu.RLock()
	var matched []*seriesMetrics
	for k, s := range m.bySeries {
		if k.function == fn && (qualifier == "*" || k.alias == qualifier) {
			matched = append(matched, s)
		}
	}
	m.mu.RUnlock()

	byVersion := map[string]*[]pointAcc{}
	for _, s := range matched {
		acc := byVersion[s.key.version]
		if acc == nil {
			a := make([]pointAcc, n)
			acc = &a
			byVersion[s.key.version] = acc
		}
		s.ts.collect(since, step, *acc)
	}
	out := make([]VersionSeries, 0, len(byVersion))
	for v, acc := range byVersion {
		vs := VersionSeries{Version: v, Points: make([]Point, n)}
		for i := range *acc {
			vs.Points[i] = (*acc)[i].point(since.Add(time.Duration(i) * step))
		}
		out = append(out, vs)
	}
	slices.SortFunc(out, func(a, b VersionSeries) int { return compareVersions(a.Version, b.Version) })
	return out
}

// compareVersions orders "$LATEST" first, then numbers numerically.
func compareVersions(a, b string) int {
	if len(a) != len(b) {
		if a == "$LATEST" {
			return -1
		}
		if b == "$LATEST" {
			return 1
		}
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// timeSeries is a ring of fixed-width time slots covering the retention
// window. Memory is bounded: one slot per resolution step (about 60 bytes
// plus a sparse duration histogram), allocated on first use and released
// when the series has been idle for the whole window.
type timeSeries struct {
	mu         sync.Mutex
	resolution time.Duration
	size       int
	slots      []slot
	last       int64 // index of the newest slot written
}

type slot struct {
	idx                 int64 // unix time / resolution; which step the slot holds
	inv, errs, throttle uint32
	msgs, msgsFailed    uint32
	durSum              time.Duration
	durCount            uint32
	hist                []histEntry // sorted by bucket
}

type histEntry struct {
	bucket uint8
	count  uint32
}

// Duration histogram: bucket b covers [histBase·2^(b/8), histBase·2^((b+1)/8)).
const histBase = 10 * time.Microsecond

func histBucket(d time.Duration) uint8 {
	if d <= histBase {
		return 0
	}
	b := math.Floor(8 * math.Log2(float64(d)/float64(histBase)))
	return uint8(min(b, 255))
}

func histValue(b uint8) time.Duration {
	return time.Duration(float64(histBase) * math.Exp2((float64(b)+0.5)/8))
}

// add records counts at now; d < 0 records no duration.
func (ts *timeSeries) add(now time.Time, inv, errs, throttle uint32, d time.Duration) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := ts.slotAt(now)
	s.inv += inv
	s.errs += errs
	s.throttle += throttle
	if d >= 0 {
		s.durSum += d
		s.durCount++
		b := histBucket(d)
		i := sort.Search(len(s.hist), func(i int) bool { return s.hist[i].bucket >= b })
		if i < len(s.hist) && s.hist[i].bucket == b {
			s.hist[i].count++
		} else {
			s.hist = slices.Insert(s.hist, i, histEntry{b, 1})
		}
	}
}

// addMessages records SQS messages delivered at now and those that failed.
func (ts *timeSeries) addMessages(now time.Time, messages, failed uint32) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	s := ts.slotAt(now)
	s.msgs += messages
	s.msgsFailed += failed
}

// slotAt is the slot of now's interval, emptied if it held an older one.
// The caller holds ts.mu.
func (ts *timeSeries) slotAt(now time.Time) *slot {
	idx := now.UnixNano() / int64(ts.resolution)
	if ts.slots == nil {
		ts.slots = make([]slot, ts.size)
	}
	s := &ts.slots[idx%int64(len(ts.slots))]
	if s.idx != idx {
		*s = slot{idx: idx, hist: s.hist[:0]}
	}
	ts.last = max(ts.last, idx)
	return s
}

func (ts *timeSeries) lastBefore(t time.Time) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.last*int64(ts.resolution) < t.UnixNano()
}

// release drops the slots of an idle series.
func (ts *timeSeries) release() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.slots = nil
}

// pointAcc accumulates the slots of one query step.
type pointAcc struct {
	inv, errs, throttle int64
	msgs, msgsFailed    int64
	durSum              time.Duration
	durCount            int64
	hist                map[uint8]int64
}

// collect adds the slots in [since, since+len(acc)·step) to acc.
func (ts *timeSeries) collect(since time.Time, step time.Duration, acc []pointAcc) {
	res := int64(ts.resolution)
	from := since.UnixNano()
	to := from + int64(len(acc))*int64(step)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i := range ts.slots {
		s := &ts.slots[i]
		t := s.idx * res
		if s.idx == 0 || t < from || t >= to {
			continue
		}
		a := &acc[(t-from)/int64(step)]
		a.inv += int64(s.inv)
		a.errs += int64(s.errs)
		a.throttle += int64(s.throttle)
		a.msgs += int64(s.msgs)
		a.msgsFailed += int64(s.msgsFailed)
		a.durSum += s.durSum
		a.durCount += int64(s.durCount)
		for _, h := range s.hist {
			if a.hist == nil {
				a.hist = make(map[uint8]int64)
			}
			a.hist[h.bucket] += int64(h.count)
		}
	}
}

func (a *pointAcc) point(t time.Time) Point {
	p := Point{Time: t, Invocations: a.inv, Errors: a.errs, Throttles: a.throttle, DurationSum: a.durSum, DurationCount: a.durCount,
		Messages: a.msgs, MessagesFailed: a.msgsFailed}
	if a.durCount > 0 {
		p.DurationP50 = a.quantile(0.50)
		p.DurationP99 = a.quantile(0.99)
	}
	return p
}

func (a *pointAcc) quantile(q float64) time.Duration {
	buckets := make([]uint8, 0, len(a.hist))
	var total int64
	for b, c := range a.hist {
		buckets = append(buckets, b)
		total += c
	}
	slices.Sort(buckets)
	rank := int64(math.Ceil(q * float64(total)))
	var seen int64
	for _, b := range buckets {
		seen += a.hist[b]
		if seen >= rank {
			return histValue(b)
		}
	}
	return 0
}
