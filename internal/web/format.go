package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/status"
)

// funcs are the template functions.
func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"iso":         iso,
		"utc":         utcText,
		"dur":         durText,
		"statusClass": statusClass,
		"short":       shortID,
		"pct":         pctText,
		"path":        pathJoin,
		"roleBadges":  roleBadges,
	}
}

// msOf reads an epoch-ms time given as int64 or *int64; 0 when absent.
func msOf(v any) int64 {
	switch t := v.(type) {
	case int64:
		return t
	case *int64:
		if t != nil {
			return *t
		}
	case int:
		return int64(t)
	}
	return 0
}

// iso is the machine-readable time of a <time datetime>.
func iso(v any) string {
	ms := msOf(v)
	if ms == 0 {
		return ""
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

// utcText is the time as shown without JavaScript.
func utcText(v any) string {
	ms := msOf(v)
	if ms == 0 {
		return "—"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05 UTC")
}

// durText formats milliseconds as "850ms", "2.4s", "3m 05s", "2h 03m".
func durText(v any) string {
	ms := max(msOf(v), 0)
	d := time.Duration(ms) * time.Millisecond
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", ms)
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// elapsed is how long something that started at start ran: until end, or
// until now while it runs; 0 when it has not started.
func elapsed(start, end *int64, now int64) int64 {
	if start == nil || *start == 0 {
		return 0
	}
	if end != nil && *end != 0 {
		return *end - *start
	}
	return now - *start
}

// statusClass is the stylesheet class of an execution, stage or task
// status.
func statusClass(s status.Status) string {
	if s == "" {
		return "st-none"
	}
	return "st-" + strings.ReplaceAll(strings.ToLower(string(s)), "_", "-")
}

// shortID is the first part of an id, enough to tell executions apart.
func shortID(id string) string {
	return id[:min(len(id), 8)]
}

// pctText formats a share from 0 to 1 as a percentage with at most two
// decimals and none needless: "90%", "12.5%" (0.1 + 0.9 float error does
// not show).
func pctText(f float64) string {
	return strconv.FormatFloat(math.Round(f*10000)/100, 'f', -1, 64) + "%"
}

// prettyJSON indents raw JSON with two spaces; anything that is not JSON
// comes back as it is.
func prettyJSON(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// toYAML renders a JSON document as YAML, keeping its key order.
func toYAML(raw []byte) (string, error) {
	y, err := pipeline.ToYAML(raw)
	if err != nil {
		return "", err
	}
	return string(y), nil
}

// queryEscape escapes a query value.
func queryEscape(s string) string { return url.QueryEscape(s) }

// escapeSegment escapes one path segment.
func escapeSegment(s string) string { return url.PathEscape(s) }

// valueText shows a JSON value as a short text: strings as they are,
// everything else as compact JSON.
func valueText(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
