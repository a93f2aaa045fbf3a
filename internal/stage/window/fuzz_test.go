package window

import (
	"encoding/json"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
)

// Resource bounds of one window: parsing it and computing when it opens
// are a few microseconds and a few KiB; these catch a loop, not a slow
// machine.
const (
	fuzzWindowTime   = time.Second
	fuzzWindowMemory = 16 << 20
	fuzzWindowBytes  = 16 << 10
)

func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzWindow: a restrictedExecutionWindow (JSON) either fails validation
// naming a field, or holds an expression (evaluated when the stage runs),
// or parses, and then both computations end within the
// resource bounds with a time no earlier than now and within eight days
// of it, or with ErrNeverOpens; the strict one's time is inside the
// window (computing again from it gives it back).
func FuzzWindow(f *testing.F) {
	f.Add([]byte(`{"whitelist":[{"startHour":22,"startMin":0,"endHour":5,"endMin":0}]}`), int64(0))
	f.Add([]byte(`{"whitelist":[{"startHour":10,"startMin":30,"endHour":10,"endMin":15}],"days":[2,6]}`), int64(86400*3))
	f.Add([]byte(`{"days":[1],"jitter":{"enabled":true,"minDelay":0,"maxDelay":600,"skipManual":true},"strictDays":true}`), int64(-7200))
	f.Add([]byte(`{"whitelist":[{"startHour":"9","startMin":"0","endHour":"17","endMin":"0"}],"days":[2,3,4,5,6]}`), int64(1e9))
	f.Add([]byte(`{"whitelist":[],"days":[]}`), int64(0))
	zones := []*time.Location{time.UTC, mustLoad("America/Los_Angeles"), mustLoad("Australia/Lord_Howe")}
	base := time.Date(2026, 3, 8, 1, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, offset int64) {
		if len(data) > fuzzWindowBytes {
			return
		}
		var raw any
		if json.Unmarshal(data, &raw) != nil {
			return
		}
		fields := map[string]any{"restrictedExecutionWindow": raw}
		before, start := allocatedBytes(), time.Now()
		errs := Type{}.Validate(fields)
		var w *Window
		if len(errs) == 0 {
			var err error
			if w, err = Parse(fields); err != nil && !stage.ContainsExpression(raw) {
				t.Fatalf("Validate accepted %s, Parse refused it: %v", data, err)
			}
		}
		now := base.Add(time.Duration(offset%(400*86400)) * time.Second)
		for _, loc := range zones {
			if w == nil {
				break
			}
			for _, strict := range []bool{false, true} {
				w.StrictDays = strict
				next, err := w.Next(now, loc)
				if err != nil {
					if err != ErrNeverOpens {
						t.Fatalf("Next: %v", err)
					}
					continue
				}
				if next.Before(now.Truncate(time.Minute)) || next.Sub(now) > 8*24*time.Hour+2*time.Hour {
					t.Fatalf("strict=%v in %s: Next(%v) = %v, not within eight days after now (%s)", strict, loc, now, next, data)
				}
				if strict {
					if again, err := w.Next(next, loc); err != nil || !again.Equal(next) {
						t.Fatalf("in %s: Next(%v) = %v, but Next of that is %v, %v (%s)", loc, now, next, again, err, data)
					}
				}
			}
		}
		took, allocated := time.Since(start), allocatedBytes()-before
		if took > fuzzWindowTime {
			t.Fatalf("window of %d bytes took %v, over %v", len(data), took, fuzzWindowTime)
		}
		if allocated > fuzzWindowMemory {
			t.Fatalf("window of %d bytes allocated %d bytes, over %d", len(data), allocated, fuzzWindowMemory)
		}
		for _, e := range errs {
			if e.Field == "" || e.Msg == "" {
				t.Fatalf("a problem without a field or message: %+v", e)
			}
		}
	})
}
