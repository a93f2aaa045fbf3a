package canary

import (
	"regexp"
	"strconv"
	"sync"

	"github.com/sluice-cd/sluice/internal/jsondoc"
)

// Query types Sluice can run. Kayenta configs may name others (atlas,
// graphite, datadog, …): they parse and keep their query as written, and
// Validate with ForRun names each such metric.
const (
	QueryLocal      = "sluice-local" // the embedded local Lambda's per-version metrics
	QueryCloudWatch = "cloudwatch"
	QueryPrometheus = "prometheus"
)

// Local Lambda metrics a sluice-local query may name.
const (
	LocalInvocations = "invocations"
	LocalErrors      = "errors" // function errors and timeouts
	LocalThrottles   = "throttles"
	LocalDuration    = "duration"   // milliseconds
	LocalErrorRate   = "error_rate" // errors / invocations
	// SQS messages event source mappings delivered to the version, those
	// that failed, and failed / delivered: a queue consumer's canary.
	LocalMessages           = "messages"
	LocalMessagesFailed     = "messages_failed"
	LocalMessageFailureRate = "message_failure_rate"
)

var localMetrics = []string{LocalInvocations, LocalErrors, LocalThrottles, LocalDuration, LocalErrorRate,
	LocalMessages, LocalMessagesFailed, LocalMessageFailureRate}

// Query is a metric's query. Type selects which of Local, CloudWatch and
// Prometheus is set; for other types none is, and Raw (always set) holds
// the query as written so that it is kept.
type Query struct {
	Type       string
	Local      *LocalQuery
	CloudWatch *CloudWatchQuery
	Prometheus *PrometheusQuery
	Raw        map[string]any
}

// LocalQuery reads the local Lambda's metrics for the version a scope
// names: {"type":"sluice-local","metric":"duration","percentile":99}.
type LocalQuery struct {
	Metric string
	// Percentile, for duration only: each sample is this percentile of
	// the durations in one sample period instead of one request's
	// duration. Nil means per-request samples.
	Percentile *float64
}

// CloudWatchQuery reads one CloudWatch metric through GetMetricData.
// Upstream Kayenta has no CloudWatch provider (Armory's plugin takes a
// MetricStat template), so this is Sluice's shape, named after
// CloudWatch's own MetricStat fields: {"type":"cloudwatch",
// "namespace":"AWS/Lambda","metricName":"Errors","dimensions":
// {"FunctionName":"${scope}"},"stat":"Sum","period":60}. Dimension values
// may use the scope's bindings ${scope}, ${function}, ${alias} and
// ${version}, like Kayenta's templates (source_cloudwatch.go).
type CloudWatchQuery struct {
	Namespace  string
	MetricName string
	Dimensions map[string]string
	Stat       string   // Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99
	Period     *float64 // seconds; nil leaves it to the source
}

// PrometheusQuery is Kayenta's PrometheusCanaryMetricSetQueryConfig.
type PrometheusQuery struct {
	ResourceType         string
	MetricName           string
	LabelBindings        []string
	GroupByFields        []string
	CustomFilter         string // deprecated in Kayenta in favour of CustomInlineTemplate
	CustomInlineTemplate string
	CustomFilterTemplate string // names an entry of Config.Templates
}

func (r *reader) query(path string, q map[string]any) Query {
	out := Query{Raw: q, Type: r.str(path+".type", q["type"])}
	switch out.Type {
	case QueryLocal:
		l := &LocalQuery{
			Metric:     r.str(path+".metric", q["metric"]),
			Percentile: r.number(path+".percentile", q["percentile"]),
		}
		out.Local = l
		r.unknown(path, q, "type", "metric", "percentile")
	case QueryCloudWatch:
		cw := &CloudWatchQuery{
			Namespace:  r.str(path+".namespace", q["namespace"]),
			MetricName: r.str(path+".metricName", q["metricName"]),
			Stat:       r.str(path+".stat", q["stat"]),
			Period:     r.number(path+".period", q["period"]),
		}
		if d := r.object(path+".dimensions", q["dimensions"]); d != nil {
			cw.Dimensions = make(map[string]string, len(d))
			for _, k := range sortedKeys(d) {
				cw.Dimensions[k] = r.str(jsondoc.JoinKey(path+".dimensions", k), d[k])
			}
		}
		out.CloudWatch = cw
		r.unknown(path, q, "type", "namespace", "metricName", "dimensions", "stat", "period")
	case QueryPrometheus:
		out.Prometheus = &PrometheusQuery{
			ResourceType:         r.str(path+".resourceType", q["resourceType"]),
			MetricName:           r.str(path+".metricName", q["metricName"]),
			LabelBindings:        r.strings(path+".labelBindings", q["labelBindings"]),
			GroupByFields:        r.strings(path+".groupByFields", q["groupByFields"]),
			CustomFilter:         r.str(path+".customFilter", q["customFilter"]),
			CustomInlineTemplate: r.str(path+".customInlineTemplate", q["customInlineTemplate"]),
			CustomFilterTemplate: r.str(path+".customFilterTemplate", q["customFilterTemplate"]),
		}
		r.unknown(path, q, "type", "resourceType", "metricName", "labelBindings", "groupByFields",
			"customFilter", "customInlineTemplate", "customFilterTemplate")
	}
	// Other types' fields are theirs (Atlas's q, Graphite's metricName,
	// …): kept in Raw, not second-guessed as unknown.
	return out
}

// cloudWatchStat matches CloudWatch's statistics: the five basic ones and
// the extended ones (p99, p99.9, tm90, wm99, tc90, ts90, PR, IQM).
var cloudWatchStat = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(Average|Sum|Minimum|Maximum|SampleCount|IQM|(p|tm|wm|tc|ts)\d{1,2}(\.\d+)?|(p|tm|wm|tc|ts)100|(TM|WM|TC|TS|PR)\(.+\))$`)
})

// validateQuery checks a supported query's fields. It knows nothing of
// other types.
func (v *validator) validateQuery(path, metric string, q Query, templates map[string]string) {
	switch {
	case q.Local != nil:
		l := q.Local
		switch {
		case l.Metric == "":
			v.add(path+".metric", "required: name the local Lambda metric of %s (%s)", metric, quotedList(localMetrics))
		case !contains(localMetrics, l.Metric):
			v.add(path+".metric", "unknown local Lambda metric %s: use one of %s", snippet(l.Metric), quotedList(localMetrics))
		}
		if p := l.Percentile; p != nil {
			if l.Metric != LocalDuration && l.Metric != "" {
				v.add(path+".percentile", "applies only to the duration metric: remove it or query duration")
			} else if !(*p > 0 && *p <= 100) {
				v.add(path+".percentile", "must be above 0 and at most 100, got %s", formatFloat(*p))
			}
		}
	case q.CloudWatch != nil:
		cw := q.CloudWatch
		if cw.Namespace == "" {
			v.add(path+".namespace", "required: the CloudWatch namespace of %s, such as \"AWS/Lambda\"", metric)
		}
		if cw.MetricName == "" {
			v.add(path+".metricName", "required: the CloudWatch metric name of %s, such as \"Errors\" or \"Duration\"", metric)
		}
		if cw.Stat == "" {
			v.add(path+".stat", "required: the statistic of %s, such as \"Sum\", \"Average\" or \"p99\"", metric)
		} else if !cloudWatchStat().MatchString(cw.Stat) {
			v.add(path+".stat", "%s is not a CloudWatch statistic: use Average, Sum, Minimum, Maximum, SampleCount or a percentile such as p99", snippet(cw.Stat))
		}
		if p := cw.Period; p != nil && !validPeriod(*p) {
			v.add(path+".period", "must be 1, 5, 10, 30 or a multiple of 60 seconds (CloudWatch's periods), got %s", formatFloat(*p))
		}
	case q.Prometheus != nil:
		p := q.Prometheus
		if p.MetricName == "" && p.CustomInlineTemplate == "" {
			v.add(path+".metricName", "required unless customInlineTemplate is set: the Prometheus metric of %s", metric)
		}
		if t := p.CustomFilterTemplate; t != "" {
			if _, ok := templates[t]; !ok {
				v.add(path+".customFilterTemplate", "names template %s, which is not in templates: add it there or correct the name", snippet(t))
			}
		}
		if p.CustomInlineTemplate != "" && p.CustomFilterTemplate != "" {
			v.add(path, "set customInlineTemplate or customFilterTemplate, not both")
		}
	}
}

func validPeriod(p float64) bool {
	switch p {
	case 1, 5, 10, 30:
		return true
	}
	return p >= 60 && p == float64(int64(p)) && int64(p)%60 == 0
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
