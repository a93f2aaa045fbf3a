package trigger

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseCron: ParseCron never panics and answers quickly; a schedule it
// accepts gives ticks that grow, in bounded time.
func FuzzParseCron(f *testing.F) {
	for _, s := range []string{"0 0 12 * * ?", "0 15 10 ? * 6#3", "0 15 10 L-2 * ?", "0 0 9 15W * ?", "0 H H * * ?",
		"0/2 * * * * ?", "0 0 12 ? * MON-FRI 2030", "* * * * * ?", "0 0 0 29 2 ?", "0 0 0 31 4 ?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		start := time.Now()
		s, err := ParseCron("fuzz", expr, "Europe/Berlin")
		if d := time.Since(start); d > time.Second {
			t.Fatalf("ParseCron(%q) took %s", expr, d)
		}
		if err != nil {
			return
		}
		from := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC) // a DST change in Berlin
		for range 3 {
			start := time.Now()
			next, err := s.Next(from)
			if d := time.Since(start); d > time.Second {
				t.Fatalf("Next of %q took %s", expr, d)
			}
			if err != nil {
				return
			}
			if !next.After(from) {
				t.Fatalf("%q: tick %v is not after %v", expr, next, from)
			}
			from = next
		}
	})
}

// FuzzMatchPayload: constraints and payloads never make MatchPayload
// panic or take long.
func FuzzMatchPayload(f *testing.F) {
	f.Add(`{"$.a.b[0]": "x", "c": "^d$"}`, `{"a": {"b": ["x"]}, "c": "d"}`)
	f.Add(`{"$['a'][*]": "1"}`, `{"a": [1, 2]}`)
	f.Fuzz(func(t *testing.T, constraints, payload string) {
		var c, p map[string]any
		if json.Unmarshal([]byte(constraints), &c) != nil || json.Unmarshal([]byte(payload), &p) != nil {
			return
		}
		start := time.Now()
		MatchPayload(c, p)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("MatchPayload took %s", d)
		}
	})
}
