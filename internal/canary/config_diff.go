package canary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sluice-cd/sluice/internal/jsondoc"
)

// ConfigChange is one difference between two canary configs. Path is a
// JSON path into the new config (into the old one for a removal); Old is
// nil for an addition and New is nil for a removal.
type ConfigChange struct {
	Path     string
	Old, New any
}

// String reads "metrics[1].analysisConfigurations.canary.critical: false → true".
func (c ConfigChange) String() string {
	switch {
	case c.Old == nil:
		return c.Path + ": added " + compact(c.New)
	case c.New == nil:
		return c.Path + ": removed " + compact(c.Old)
	}
	return c.Path + ": " + compact(c.Old) + " → " + compact(c.New)
}

// DiffConfigs compares two canary config documents field by field, unknown
// fields included. It is semantic where a line diff is not: metrics are
// matched by name, so reordering them is no change, and numbers compare
// by value (1.0 equals 1). Changes come sorted by key at each level,
// metrics in the new document's order.
func DiffConfigs(before, after []byte) ([]ConfigChange, error) {
	a, err := decodeDocument(before)
	if err != nil {
		return nil, fmt.Errorf("old config: %w", err)
	}
	b, err := decodeDocument(after)
	if err != nil {
		return nil, fmt.Errorf("new config: %w", err)
	}
	var d differ
	d.value("", a, b)
	return d.changes, nil
}

func decodeDocument(data []byte) (any, error) {
	if _, err := ParseConfig(data); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF"))))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

type differ struct{ changes []ConfigChange }

func (d *differ) value(path string, a, b any) {
	am, aObj := a.(map[string]any)
	bm, bObj := b.(map[string]any)
	if aObj && bObj {
		for _, k := range sortedKeys(union(am, bm)) {
			av, inA := am[k]
			bv, inB := bm[k]
			p := jsondoc.JoinKey(path, k)
			switch {
			case !inA:
				d.changes = append(d.changes, ConfigChange{Path: p, New: bv})
			case !inB:
				d.changes = append(d.changes, ConfigChange{Path: p, Old: av})
			case path == "" && k == "metrics":
				d.metrics(p, av, bv)
			default:
				d.value(p, av, bv)
			}
		}
		return
	}
	al, aList := a.([]any)
	bl, bList := b.([]any)
	if aList && bList {
		d.list(path, al, bl)
		return
	}
	if !equalJSON(a, b) {
		d.changes = append(d.changes, ConfigChange{Path: path, Old: orNull(a), New: orNull(b)})
	}
}

func (d *differ) list(path string, a, b []any) {
	for i := range max(len(a), len(b)) {
		p := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case i >= len(a):
			d.changes = append(d.changes, ConfigChange{Path: p, New: orNull(b[i])})
		case i >= len(b):
			d.changes = append(d.changes, ConfigChange{Path: p, Old: orNull(a[i])})
		default:
			d.value(p, a[i], b[i])
		}
	}
}

// metrics matches metrics by name when every metric of both configs has
// a unique name, and by position otherwise.
func (d *differ) metrics(path string, a, b any) {
	al, aList := a.([]any)
	bl, bList := b.([]any)
	an, aok := metricIndex(al)
	bn, bok := metricIndex(bl)
	if !aList || !bList || !aok || !bok {
		d.value(path, a, b)
		return
	}
	for i, m := range bl {
		p := path + "[" + strconv.Itoa(i) + "]"
		if j, ok := an[metricName(m)]; ok {
			d.value(p, al[j], m)
		} else {
			d.changes = append(d.changes, ConfigChange{Path: p, New: m})
		}
	}
	for j, m := range al {
		if _, ok := bn[metricName(m)]; !ok {
			d.changes = append(d.changes, ConfigChange{Path: path + "[" + strconv.Itoa(j) + "]", Old: m})
		}
	}
}

func metricName(m any) string {
	obj, _ := m.(map[string]any)
	name, _ := obj["name"].(string)
	return name
}

func metricIndex(list []any) (map[string]int, bool) {
	idx := make(map[string]int, len(list))
	for i, m := range list {
		name := metricName(m)
		if _, dup := idx[name]; dup || name == "" {
			return nil, false
		}
		idx[name] = i
	}
	return idx, true
}

func union(a, b map[string]any) map[string]any {
	u := make(map[string]any, len(a)+len(b))
	for k := range a {
		u[k] = nil
	}
	for k := range b {
		u[k] = nil
	}
	return u
}

// equalJSON compares scalars and, for mismatched kinds, whole values;
// numbers compare by value.
func equalJSON(a, b any) bool {
	an, aNum := a.(json.Number)
	bn, bNum := b.(json.Number)
	if aNum && bNum {
		af, aerr := strconv.ParseFloat(string(an), 64)
		bf, berr := strconv.ParseFloat(string(bn), 64)
		if aerr == nil && berr == nil {
			return af == bf
		}
		return an == bn
	}
	return compact(a) == compact(b)
}

// nullValue stands for a JSON null in a change, where nil means absent.
type nullValue struct{}

func (nullValue) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func orNull(v any) any {
	if v == nil {
		return nullValue{}
	}
	return v
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
