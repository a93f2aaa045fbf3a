package canary

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cd/sluice/internal/jsondoc"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// ConfigValidateOptions selects how strict Validate is.
type ConfigValidateOptions struct {
	// ForRun also requires what running the config needs: every query of
	// a type Sluice can read. Without it a config for Atlas or Graphite
	// is valid, so that exported configs can be stored and diffed.
	ForRun bool
}

// Validate checks the config and returns nil or a *pipeline.ValidationError
// listing every problem with its JSON path (the same error type as a
// pipeline's, so the API and CLI report both alike). Warnings are not
// problems: see Warnings.
func (c *Config) Validate(opts ConfigValidateOptions) error {
	v := &validator{problems: slices.Clone(c.shape)}
	if strings.TrimSpace(c.Name) == "" {
		v.add("name", "required: name the canary config")
	}
	if c.Judge.Name != "" && c.Judge.Name != JudgeNetflixACA {
		v.add("judge.name", "unknown judge %s: Sluice has %s only; set it to that or remove judge", snippet(c.Judge.Name), JudgeNetflixACA)
	}
	for i, a := range c.Applications {
		if strings.TrimSpace(a) == "" {
			v.add("applications["+strconv.Itoa(i)+"]", "empty application name: remove it or name the application")
		}
	}
	if len(c.Metrics) == 0 {
		v.add("metrics", "required: a canary config judges at least one metric")
	}
	names := map[string]int{}
	used := map[string]bool{}
	for i, m := range c.Metrics {
		path := "metrics[" + strconv.Itoa(i) + "]"
		if m.notObject {
			continue
		}
		label := "metric " + snippet(m.Name)
		switch first, dup := names[m.Name]; {
		case m.Name == "":
			v.add(path+".name", "required: name the metric")
			label = path
		case dup:
			v.add(path+".name", "metric %s is also metrics[%d]: metric names must be unique", snippet(m.Name), first)
		default:
			names[m.Name] = i
		}
		if len(m.Groups) == 0 {
			v.add(path+".groups", "required: put %s in at least one group of classifier.groupWeights", label)
		}
		for j, g := range m.Groups {
			if strings.TrimSpace(g) == "" {
				v.add(path+".groups["+strconv.Itoa(j)+"]", "empty group name: name the group")
			}
			used[g] = true
		}
		if m.ScopeName != "" && m.ScopeName != "default" {
			v.add(path+".scopeName", "must be \"default\" (Kayenta's only scope name), got %s: set it to \"default\" or remove it", snippet(m.ScopeName))
		}
		v.metricQuery(path+".query", label, m.Query, c.Templates, opts)
		v.analysis(path+".analysisConfigurations.canary", m.Analysis)
	}
	v.weights(c.Classifier.GroupWeights, used)
	if len(v.problems) == 0 {
		return nil
	}
	return &pipeline.ValidationError{Problems: v.problems}
}

type validator struct {
	problems []pipeline.Problem
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, pipeline.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var supportedQueries = []string{QueryLocal, QueryCloudWatch, QueryPrometheus}

func (v *validator) metricQuery(path, label string, q Query, templates map[string]string, opts ConfigValidateOptions) {
	switch {
	case q.Raw == nil:
		v.add(path, "required: the query of %s, such as {\"type\": \"sluice-local\", \"metric\": \"error_rate\"}", label)
		return
	case q.Type == "":
		v.add(path+".type", "required: the metric source of %s (%s)", label, quotedList(supportedQueries))
		return
	case opts.ForRun && !contains(supportedQueries, q.Type):
		v.add(path+".type", "%s queries %s, which Sluice cannot read: rewrite the query for %s", label, snippet(q.Type), quotedList(supportedQueries))
		return
	}
	v.validateQuery(path, label, q, templates)
}

func (v *validator) analysis(path string, a Analysis) {
	switch a.Direction {
	case "", DirectionIncrease, DirectionDecrease, DirectionEither:
	default:
		v.add(path+".direction", "must be \"increase\", \"decrease\" or \"either\", got %s", snippet(string(a.Direction)))
	}
	switch a.NaNStrategy {
	case "", NaNRemove, NaNReplace:
	default:
		v.add(path+".nanStrategy", "must be \"remove\" or \"replace\", got %s", snippet(string(a.NaNStrategy)))
	}
	if s := a.Outliers.Strategy; s != "" && s != "keep" && s != "remove" {
		v.add(path+".outliers.strategy", "must be \"keep\" or \"remove\", got %s", snippet(s))
	}
	if f := a.Outliers.OutlierFactor; f != nil && !(*f > 0) {
		v.add(path+".outliers.outlierFactor", "must be above 0 (Kayenta's default is 3), got %s", formatFloat(*f))
	}

	e := a.EffectSize
	p := path + ".effectSize"
	bounds := []struct {
		name string
		val  *float64
	}{
		{"allowedIncrease", e.AllowedIncrease}, {"allowedDecrease", e.AllowedDecrease},
		{"criticalIncrease", e.CriticalIncrease}, {"criticalDecrease", e.CriticalDecrease},
	}
	switch e.Measure {
	case "", "meanRatio":
		// A ratio of means: 1 is no change, so an increase bound below 1
		// or a decrease bound above 1 would fail a metric that moved the
		// other way.
		for _, b := range bounds {
			if b.val == nil {
				continue
			}
			switch {
			case !(*b.val > 0):
				v.add(p+"."+b.name, "must be above 0 (a ratio of means), got %s", formatFloat(*b.val))
			case strings.HasSuffix(b.name, "Increase") && *b.val < 1:
				v.add(p+"."+b.name, "must be at least 1 for meanRatio (1.1 fails at +10%%), got %s", formatFloat(*b.val))
			case strings.HasSuffix(b.name, "Decrease") && *b.val > 1:
				v.add(p+"."+b.name, "must be at most 1 for meanRatio (0.9 fails at -10%%), got %s", formatFloat(*b.val))
			}
		}
	case "cles":
		for _, b := range bounds {
			if b.val != nil && !(*b.val >= 0 && *b.val <= 1) {
				v.add(p+"."+b.name, "must be between 0 and 1 for cles (a probability; 0.5 is no change), got %s", formatFloat(*b.val))
			}
		}
	default:
		v.add(p+".measure", "must be \"meanRatio\" or \"cles\", got %s", snippet(e.Measure))
	}
	if !a.Critical && (e.CriticalIncrease != nil || e.CriticalDecrease != nil) {
		v.add(p, "criticalIncrease and criticalDecrease apply only to critical metrics: set critical to true or remove them")
	}
}

// weights checks classifier.groupWeights against the groups metrics use.
// Kayenta requires the weights to total 100; a group without a weight
// would then share a weight of 0, and a weight on a group no metric is in
// scores 100 for nothing (a group without counted metrics scores 100).
func (v *validator) weights(w map[string]float64, used map[string]bool) {
	const path = "classifier.groupWeights"
	if w == nil {
		v.add(path, "required: weigh each group of metrics, weights summing to 100, such as {\"errors\": 70, \"latency\": 30}")
		return
	}
	var sum float64
	unreadable := false
	for _, g := range sortedKeys(w) {
		switch {
		case math.IsNaN(w[g]): // reported by ParseConfig's reader
			unreadable = true
		case w[g] < 0:
			v.add(jsondoc.JoinKey(path, g), "must be 0 or more, got %s", formatFloat(w[g]))
		case !used[g]:
			v.add(jsondoc.JoinKey(path, g), "no metric is in group %s: remove its weight or add the group to a metric", snippet(g))
		}
		sum += w[g]
	}
	if !unreadable && math.Abs(sum-100) > 1e-9 {
		v.add(path, "weights must sum to 100, got %s: adjust them", formatFloat(sum))
	}
	for _, g := range sortedKeys(used) {
		if _, ok := w[g]; !ok && strings.TrimSpace(g) != "" {
			v.add(path, "group %s has metrics but no weight: add %s with a weight", snippet(g), snippet(g))
		}
	}
}

func contains(list []string, s string) bool { return slices.Contains(list, s) }

// quotedList writes "a", "b" or "c".
func quotedList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
