package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"

	"github.com/sluice-cd/sluice/internal/notify"
	"github.com/sluice-cd/sluice/internal/status"
)

// Metric names the engine exports (docs/operating.md lists them with
// their labels).
const (
	metricExecutions        = "sluice_executions_total"
	metricExecutionDuration = "sluice_execution_duration_seconds"
	metricStages            = "sluice_stages_total"
	metricStageDuration     = "sluice_stage_duration_seconds"
	metricJobLag            = "sluice_job_start_lag_seconds"
	metricJobs              = "sluice_jobs"
	metricNotifications     = "sluice_notification_attempts_total"
	metricTriggers          = "sluice_trigger_firings_total"
)

// metrics are the engine's Prometheus collectors. Each process counts the
// transitions it committed itself, so on a cluster the servers' series add
// up (sum by the labels) to the whole. A nil *metrics records nothing.
type metrics struct {
	executions        *prometheus.CounterVec
	executionDuration *prometheus.HistogramVec
	stages            *prometheus.CounterVec
	stageDuration     *prometheus.HistogramVec
	jobLag            *prometheus.HistogramVec
	notifications     *prometheus.CounterVec
	triggers          *prometheus.CounterVec
}

// durationBuckets span a wait-0 stage (milliseconds) to a release that
// waits a day for its judgment.
var durationBuckets = []float64{.005, .025, .1, .5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}

func newMetrics(reg prometheus.Registerer, q jobQueue) (*metrics, error) {
	m := &metrics{
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricExecutions,
			Help: "Executions that ended, by application, pipeline and final status.",
		}, []string{"application", "pipeline", "status"}),
		executionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricExecutionDuration,
			Help:    "How long executions ran, from start to end, by application, pipeline and final status.",
			Buckets: durationBuckets,
		}, []string{"application", "pipeline", "status"}),
		stages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricStages,
			Help: "Stages that ended, by application, stage type and final status.",
		}, []string{"application", "type", "status"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricStageDuration,
			Help:    "How long stages ran, from start to end, by application, stage type and final status (skipped stages, which never ran, are not observed).",
			Buckets: durationBuckets,
		}, []string{"application", "type", "status"}),
		jobLag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricJobLag,
			Help:    "The time from a job being due (inserted, or its snooze or retry over) to a worker of this process starting it, by job kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricNotifications,
			Help: "Attempts to deliver a notification, by application, channel type and result: sent, retrying (failed, to be tried again) or failed (given up).",
		}, []string{"application", "type", "result"}),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricTriggers,
			Help: "Executions started by a pipeline's trigger (webhook, git, cron, pipeline; not by a person), and cron ticks that started none, by application, trigger type and outcome: started, missed (a tick too late to fire) or refused (the execution could not start).",
		}, []string{"application", "type", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.executions, m.executionDuration, m.stages, m.stageDuration, m.jobLag, m.notifications, m.triggers, jobsCollector{q}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ended is an execution or stage that reached a final status in a
// transaction; it is counted once the transaction commits.
type ended struct {
	stage       bool
	application string
	name        string // the pipeline's, or the stage's type
	status      status.Status
	duration    time.Duration // negative when it never started
}

// firing is a trigger that fired in a transaction.
type firing struct{ application, typ, outcome string }

// record counts what a committed transaction ended and the triggers that
// fired in it.
func (m *metrics) record(done []ended, fired []firing) {
	if m == nil {
		return
	}
	for _, f := range fired {
		m.triggers.WithLabelValues(f.application, f.typ, f.outcome).Inc()
	}
	for _, d := range done {
		count, hist := m.executions, m.executionDuration
		if d.stage {
			count, hist = m.stages, m.stageDuration
		}
		count.WithLabelValues(d.application, d.name, string(d.status)).Inc()
		if d.duration >= 0 {
			hist.WithLabelValues(d.application, d.name, string(d.status)).Observe(d.duration.Seconds())
		}
	}
}

// started observes how long a job waited for a worker once it was due.
func (m *metrics) started(job *rivertype.JobRow) {
	if m == nil || job.AttemptedAt == nil {
		return
	}
	m.jobLag.WithLabelValues(job.Kind).Observe(max(0, job.AttemptedAt.Sub(job.ScheduledAt).Seconds()))
}

// notified counts an attempt to deliver msg: sent when err is nil, else
// failed when it was the last (final), retrying otherwise.
func (m *metrics) notified(msg *notify.Message, err error, final bool) {
	if m == nil {
		return
	}
	result := "sent"
	switch {
	case err != nil && final:
		result = "failed"
	case err != nil:
		result = "retrying"
	}
	m.notifications.WithLabelValues(msg.Application, msg.Type, result).Inc()
}

// jobsCollector reports the job queue's jobs by state when scraped: the
// engine's queue depth (available and scheduled jobs are work waiting;
// running ones are being done).
type jobsCollector struct{ q jobQueue }

var jobsDesc = prometheus.NewDesc(metricJobs,
	"Jobs in the durable job queue by state (available: due and waiting for a worker; scheduled: due later; running; retryable), counted in the database when scraped, so every server of a cluster reports the same whole.",
	[]string{"state"}, nil)

func (c jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.q.JobCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	for _, state := range []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStateScheduled,
		rivertype.JobStateRunning, rivertype.JobStateRetryable} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(counts[state]), string(state))
	}
}
