package canary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/sluice-cd/sluice/internal/jsondoc"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// JudgeNetflixACA is the only judge a canary config may name: Kayenta's
// NetflixACAJudge-v1.0, which Sluice implements.
const JudgeNetflixACA = "NetflixACAJudge-v1.0"

// Config is a canary config in Kayenta's JSON shape (kayenta-core's
// CanaryConfig): what to measure, how to judge each metric and how to weigh
// the groups of metrics into one score. A config exported from Kayenta
// parses as it is.
//
// ParseConfig keeps what it cannot hold in a field: unknown fields are listed
// by Warnings (Kayenta ignores them silently; Sluice names them), and a value
// of the wrong JSON type is a problem that Validate reports with the rest.
type Config struct {
	ID            string
	Name          string
	Description   string
	ConfigVersion string // Kayenta's is a string; a number is kept as written ("1.0")
	Applications  []string
	Judge         JudgeConfig
	Metrics       []Metric
	Templates     map[string]string // name → query template with ${scope}-style bindings
	Classifier    Classifier

	// Set by Kayenta's storage and kept so that an exported config loads
	// as it is; Sluice's own storage versions configs itself.
	CreatedTimestamp, UpdatedTimestamp       int64
	CreatedTimestampISO, UpdatedTimestampISO string

	shape    []pipeline.Problem // values of the wrong type, for Validate
	warnings []pipeline.Problem // unknown fields, for Warnings
}

// JudgeConfig names the judge. Kayenta documents judgeConfigurations as
// always empty; it is kept as written.
type JudgeConfig struct {
	Name                string
	JudgeConfigurations map[string]any
}

// Metric is one metric of a config: where its samples come from (Query),
// the groups it is scored in and how it is judged (Analysis, read from
// analysisConfigurations.canary).
type Metric struct {
	Name      string
	Query     Query
	Groups    []string
	Analysis  Analysis
	ScopeName string // Kayenta accepts only "default"; empty means "default"

	notObject bool // the document's entry was not an object: reported once, not field by field
}

// Analysis is a metric's analysisConfigurations.canary. Empty strings and
// nil pointers are fields the document left out; the judge applies
// Kayenta's defaults to them (direction either, nanStrategy remove,
// outliers keep with factor 3, effect sizes 1.0 for meanRatio and 0.5 for
// cles).
type Analysis struct {
	Direction    Direction
	NaNStrategy  NaNStrategy
	Critical     bool
	MustHaveData bool
	Muted        bool // judged and reported, left out of the score
	EffectSize   AnalysisEffectSize
	Outliers     AnalysisOutliers
}

// AnalysisEffectSize bounds how large a significant change must be to fail the
// metric (Allowed*) or the whole canary (Critical*, critical metrics only).
type AnalysisEffectSize struct {
	Measure          string // "meanRatio" (default) or "cles"
	AllowedIncrease  *float64
	AllowedDecrease  *float64
	CriticalIncrease *float64
	CriticalDecrease *float64
}

// AnalysisOutliers says whether the judge removes outliers by the IQR rule.
type AnalysisOutliers struct {
	Strategy      string // "keep" (default) or "remove"
	OutlierFactor *float64
}

// Classifier weighs groups into the score. Weights must sum to 100.
type Classifier struct {
	GroupWeights map[string]float64
	// ScoreThresholds is Kayenta's hidden classifier.scoreThresholds:
	// kept, but neither Kayenta's judge nor Sluice's reads it; the canary
	// stage's scoreThresholds decide. Warnings says so when it is set.
	ScoreThresholds map[string]any
}

// Warnings lists the fields Sluice keeps but does not act on, by JSON
// path: unknown fields and fields Kayenta itself ignores. A config with
// warnings is valid; a person should still see them.
func (c *Config) Warnings() []pipeline.Problem {
	return slices.Clone(c.warnings)
}

// ParseConfig reads a canary config document (JSON). It fails only when
// the bytes are not one JSON object; every other problem is kept for
// Validate, so that one call reports them all.
func ParseConfig(data []byte) (*Config, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty canary config document")
	}
	var v any
	if err := jsondoc.Decode(data, &v, "the canary config object"); err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("canary config document must be an object, got %s", jsondoc.TypeName(v))
	}
	r := &reader{}
	c := r.config(doc)
	c.shape, c.warnings = r.problems, r.warnings
	return c, nil
}

// reader decodes the generic JSON value into a Config, recording values of
// the wrong type as problems and unknown fields as warnings instead of
// stopping at the first.
type reader struct {
	problems []pipeline.Problem
	warnings []pipeline.Problem
}

func (r *reader) problem(path, format string, args ...any) {
	r.problems = append(r.problems, pipeline.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (r *reader) warn(path, format string, args ...any) {
	r.warnings = append(r.warnings, pipeline.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// unknown warns about every key of m not in known, in sorted order.
func (r *reader) unknown(path string, m map[string]any, known ...string) {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(known, k) {
			r.warn(jsondoc.JoinKey(path, k), "unknown field; Sluice ignores it: remove it or correct its name")
		}
	}
}

func (r *reader) object(path string, v any) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.problem(path, "must be an object, got %s", jsondoc.TypeName(v))
	}
	return m
}

func (r *reader) list(path string, v any) []any {
	if v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		r.problem(path, "must be a list, got %s", jsondoc.TypeName(v))
	}
	return l
}

func (r *reader) str(path string, v any) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.problem(path, "must be a string, got %s", jsondoc.TypeName(v))
	}
	return s
}

func (r *reader) boolean(path string, v any) bool {
	if v == nil {
		return false
	}
	b, ok := v.(bool)
	if !ok {
		r.problem(path, "must be true or false, got %s", jsondoc.TypeName(v))
	}
	return b
}

func (r *reader) number(path string, v any) *float64 {
	if v == nil {
		return nil
	}
	n, ok := v.(json.Number)
	if !ok {
		r.problem(path, "must be a number, got %s", jsondoc.TypeName(v))
		return nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		r.problem(path, "number %s is out of range", snippet(string(n)))
		return nil
	}
	return &f
}

func (r *reader) strings(path string, v any) []string {
	l := r.list(path, v)
	if l == nil {
		return nil
	}
	out := make([]string, 0, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			r.problem(path+"["+strconv.Itoa(i)+"]", "must be a string, got %s", jsondoc.TypeName(e))
			continue
		}
		out = append(out, s)
	}
	return out
}

func (r *reader) config(doc map[string]any) *Config {
	c := &Config{}
	c.ID = r.str("id", doc["id"])
	c.Name = r.str("name", doc["name"])
	c.Description = r.str("description", doc["description"])
	switch v := doc["configVersion"].(type) {
	case json.Number: // Jackson reads a number into Kayenta's String field
		c.ConfigVersion = string(v)
	default:
		c.ConfigVersion = r.str("configVersion", v)
	}
	c.Applications = r.strings("applications", doc["applications"])
	if j := r.object("judge", doc["judge"]); j != nil {
		c.Judge.Name = r.str("judge.name", j["name"])
		c.Judge.JudgeConfigurations = r.object("judge.judgeConfigurations", j["judgeConfigurations"])
		if len(c.Judge.JudgeConfigurations) > 0 {
			r.warn("judge.judgeConfigurations", "NetflixACAJudge-v1.0 takes no judge configurations; Sluice ignores them (Kayenta does too): remove them")
		}
		r.unknown("judge", j, "name", "judgeConfigurations")
	}
	for i, e := range r.list("metrics", doc["metrics"]) {
		path := "metrics[" + strconv.Itoa(i) + "]"
		m := r.object(path, e)
		if m == nil {
			if e == nil {
				r.problem(path, "must be a metric object, got null")
			}
			c.Metrics = append(c.Metrics, Metric{notObject: true})
			continue
		}
		c.Metrics = append(c.Metrics, r.metric(path, m))
	}
	if t := r.object("templates", doc["templates"]); t != nil {
		c.Templates = make(map[string]string, len(t))
		for _, k := range sortedKeys(t) {
			c.Templates[k] = r.str(jsondoc.JoinKey("templates", k), t[k])
		}
	}
	if cl := r.object("classifier", doc["classifier"]); cl != nil {
		if w := r.object("classifier.groupWeights", cl["groupWeights"]); w != nil {
			c.Classifier.GroupWeights = make(map[string]float64, len(w))
			for _, k := range sortedKeys(w) {
				// An unreadable weight is kept as NaN so that Validate
				// neither asks for it again nor sums it.
				c.Classifier.GroupWeights[k] = math.NaN()
				if f := r.number(jsondoc.JoinKey("classifier.groupWeights", k), w[k]); f != nil {
					c.Classifier.GroupWeights[k] = *f
				}
			}
		}
		if st := r.object("classifier.scoreThresholds", cl["scoreThresholds"]); st != nil {
			c.Classifier.ScoreThresholds = st
			r.warn("classifier.scoreThresholds", "not used to judge, by Kayenta or Sluice: set scoreThresholds {pass, marginal} on the canary stage instead")
		}
		r.unknown("classifier", cl, "groupWeights", "scoreThresholds")
	}
	if f := r.number("createdTimestamp", doc["createdTimestamp"]); f != nil {
		c.CreatedTimestamp = int64(*f)
	}
	if f := r.number("updatedTimestamp", doc["updatedTimestamp"]); f != nil {
		c.UpdatedTimestamp = int64(*f)
	}
	c.CreatedTimestampISO = r.str("createdTimestampIso", doc["createdTimestampIso"])
	c.UpdatedTimestampISO = r.str("updatedTimestampIso", doc["updatedTimestampIso"])
	r.unknown("", doc, "id", "name", "description", "configVersion", "applications", "judge", "metrics",
		"templates", "classifier", "createdTimestamp", "updatedTimestamp", "createdTimestampIso", "updatedTimestampIso")
	return c
}

func (r *reader) metric(path string, m map[string]any) Metric {
	var out Metric
	out.Name = r.str(path+".name", m["name"])
	out.Groups = r.strings(path+".groups", m["groups"])
	out.ScopeName = r.str(path+".scopeName", m["scopeName"])
	if q := r.object(path+".query", m["query"]); q != nil {
		out.Query = r.query(path+".query", q)
	}
	ac := r.object(path+".analysisConfigurations", m["analysisConfigurations"])
	for _, k := range sortedKeys(ac) {
		if k != "canary" {
			r.warn(jsondoc.JoinKey(path+".analysisConfigurations", k), "the judge reads only analysisConfigurations.canary; Sluice ignores this one (Kayenta does too): remove it")
		}
	}
	if a := r.object(path+".analysisConfigurations.canary", ac["canary"]); a != nil {
		out.Analysis = r.analysis(path+".analysisConfigurations.canary", a)
	}
	r.unknown(path, m, "name", "query", "groups", "analysisConfigurations", "scopeName")
	return out
}

func (r *reader) analysis(path string, a map[string]any) Analysis {
	var out Analysis
	out.Direction = Direction(r.str(path+".direction", a["direction"]))
	out.NaNStrategy = NaNStrategy(r.str(path+".nanStrategy", a["nanStrategy"]))
	out.Critical = r.boolean(path+".critical", a["critical"])
	out.MustHaveData = r.boolean(path+".mustHaveData", a["mustHaveData"])
	out.Muted = r.boolean(path+".muted", a["muted"])
	if e := r.object(path+".effectSize", a["effectSize"]); e != nil {
		p := path + ".effectSize"
		out.EffectSize = AnalysisEffectSize{
			Measure:          r.str(p+".measure", e["measure"]),
			AllowedIncrease:  r.number(p+".allowedIncrease", e["allowedIncrease"]),
			AllowedDecrease:  r.number(p+".allowedDecrease", e["allowedDecrease"]),
			CriticalIncrease: r.number(p+".criticalIncrease", e["criticalIncrease"]),
			CriticalDecrease: r.number(p+".criticalDecrease", e["criticalDecrease"]),
		}
		r.unknown(p, e, "measure", "allowedIncrease", "allowedDecrease", "criticalIncrease", "criticalDecrease")
	}
	if o := r.object(path+".outliers", a["outliers"]); o != nil {
		out.Outliers = AnalysisOutliers{
			Strategy:      r.str(path+".outliers.strategy", o["strategy"]),
			OutlierFactor: r.number(path+".outliers.outlierFactor", o["outlierFactor"]),
		}
		r.unknown(path+".outliers", o, "strategy", "outlierFactor")
	}
	r.unknown(path, a, "direction", "nanStrategy", "critical", "mustHaveData", "muted", "effectSize", "outliers")
	return out
}

// snippet quotes s for a message, cut to 40 characters.
func snippet(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return strconv.Quote(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
