package window

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

// la is the zone Orca's tests compute in.
var la = mustLoad("America/Los_Angeles")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// date is Orca's test helper: "MM/dd HH:mm:ss" in 2015, Los Angeles time.
func date(s string) time.Time {
	t, err := time.ParseInLocation("01/02 15:04:05 2006", s+" 2015", la)
	if err != nil {
		panic(err)
	}
	return t
}

// ranges builds a whitelist from "HH:MM-HH:MM" pairs.
func ranges(specs ...string) []TimeRange {
	var out []TimeRange
	for _, s := range specs {
		var h1, m1, h2, m2 int
		if _, err := fmt.Sscanf(s, "%d:%d-%d:%d", &h1, &m1, &h2, &m2); err != nil {
			panic(err)
		}
		out = append(out, TimeRange{h1*60 + m1, h2*60 + m2})
	}
	return out
}

// TestNextOrca is RestrictPipelineExecutionDuringTimeWindowSpec's tables,
// row for row: Sluice computes when a window opens as Orca does.
func TestNextOrca(t *testing.T) {
	t.Parallel()
	tests := []struct {
		now, want string
		whitelist []TimeRange
		days      []int
	}{
		// 'stage should be scheduled at #expectedTime when triggered at #scheduledTime with time windows'
		{"02/14 01:00:00", "02/14 01:00:00", ranges("22:00-05:00"), nil},
		{"02/13 21:45:00", "02/14 06:00:00", ranges("06:00-10:00"), nil},
		{"02/13 13:45:00", "02/13 22:00:00", ranges("22:00-05:00"), nil},
		{"02/13 06:30:00", "02/13 10:00:00", ranges("10:00-13:00"), nil},
		{"02/13 09:59:59", "02/13 10:00:00", ranges("10:00-13:00"), nil},
		{"02/13 10:00:00", "02/13 10:00:00", ranges("10:00-13:00"), nil},
		{"02/13 10:00:35", "02/13 10:00:35", ranges("10:00-13:00"), nil},
		{"02/13 10:01:35", "02/13 10:01:35", ranges("10:00-13:00"), nil},
		{"02/13 09:59:59", "02/13 10:00:00", ranges("10:00-13:00", "16:00-18:00"), nil},
		{"02/13 10:00:00", "02/13 10:00:00", ranges("10:00-13:00", "16:00-18:00"), nil},
		{"02/13 10:01:35", "02/13 10:01:35", ranges("10:00-13:00", "16:00-18:00"), nil},
		{"02/13 10:01:35", "02/13 10:01:35", ranges("16:00-18:00", "10:00-13:00"), nil},
		{"02/13 14:30:00", "02/13 14:30:00", ranges("13:00-18:00"), nil},
		{"02/13 00:00:00", "02/13 10:00:00", ranges("10:00-13:00"), nil},
		{"02/13 00:01:00", "02/13 10:00:00", ranges("10:00-13:00"), nil},
		{"02/13 00:01:00", "02/13 15:00:00", ranges("15:00-18:00"), nil},
		{"02/13 11:01:00", "02/13 15:00:00", ranges("15:00-18:00"), nil},
		{"02/13 14:01:00", "02/14 13:00:00", ranges("13:00-14:00"), nil},
		{"02/13 22:00:00", "02/13 22:00:00", ranges("22:00-05:00"), nil},
		{"02/13 01:00:00", "02/13 01:00:00", ranges("00:00-05:00", "22:00-23:59"), nil},
		{"02/13 00:59:59", "02/13 10:00:00", ranges("10:00-11:00", "13:00-14:00", "15:00-16:00"), nil},
		{"02/13 10:30:59", "02/13 10:30:59", ranges("10:00-11:00", "13:00-14:00", "15:00-16:00"), nil},
		{"02/13 12:30:59", "02/13 13:00:00", ranges("10:00-11:00", "13:00-14:00", "15:00-16:00"), nil},
		{"02/13 16:00:00", "02/13 16:00:00", ranges("10:00-11:00", "13:00-14:00", "15:00-16:00"), nil},
		{"02/13 16:01:00", "02/14 10:00:00", ranges("10:00-11:00", "13:00-14:00", "15:00-16:00"), nil},
		// the stage-context table adds:
		{"02/13 05:01:00", "02/13 22:00:00", ranges("22:00-05:00"), nil},
		// 'stage should consider whitelisted days when calculating scheduled time'
		// (2015-02-25 is a Wednesday, day 4). Orca lands a day after the
		// listed day when it moves to another day; see Window.StrictDays.
		{"02/25 01:00:00", "02/25 01:00:00", ranges("22:00-05:00"), []int{1, 2, 3, 4, 5, 6, 7}},
		{"02/25 21:45:00", "02/26 06:00:00", ranges("06:00-10:00"), nil},
		{"02/25 21:45:00", "02/26 06:00:00", ranges("06:00-10:00"), []int{4}},
		{"02/25 21:45:00", "02/27 06:00:00", ranges("06:00-10:00"), []int{5}},
		{"02/25 21:45:00", "03/04 06:00:00", ranges("06:00-10:00"), []int{3}},
		{"02/25 21:45:00", "02/26 06:00:00", ranges("06:00-10:00"), []int{3, 4, 5}},
		{"02/25 21:45:00", "02/27 06:00:00", ranges("06:00-10:00"), []int{3, 5}},
		// 'should be valid all day if no time window selected but some days are selected'
		{"02/25 01:00:00", "02/25 01:00:00", nil, []int{1, 2, 3, 4, 5, 6, 7}},
		{"02/25 00:00:00", "02/25 00:00:00", nil, []int{1, 2, 3, 4, 5, 6, 7}},
		{"02/25 23:59:00", "02/25 23:59:00", nil, []int{1, 2, 3, 4, 5, 6, 7}},
		{"02/25 01:00:00", "03/02 00:00:00", nil, []int{1}},
	}
	for _, tt := range tests {
		w := &Window{Whitelist: tt.whitelist, Days: tt.days}
		got, err := w.Next(date(tt.now), la)
		if err != nil || !got.Equal(date(tt.want)) {
			t.Errorf("%v days %v at %s: Next = %v, %v; want %s", tt.whitelist, tt.days, tt.now, got, err, tt.want)
		}
	}
}

// TestNextStrict: with strictDays the window opens at the first listed
// time on a listed day, where Orca's computation lands a day late.
func TestNextStrict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		now, want string
		whitelist []TimeRange
		days      []int
	}{
		{"02/25 21:45:00", "02/26 06:00:00", ranges("06:00-10:00"), []int{5}},           // Thursday, not Friday
		{"02/25 21:45:00", "03/04 06:00:00", ranges("06:00-10:00"), []int{4}},           // next Wednesday, not Thursday
		{"02/25 21:45:00", "03/03 06:00:00", ranges("06:00-10:00"), []int{3}},           // Tuesday
		{"02/25 21:45:00", "02/26 06:00:00", ranges("06:00-10:00"), []int{3, 5}},        // Thursday
		{"02/25 01:00:00", "03/01 00:00:00", nil, []int{1}},                             // Sunday, all day
		{"02/25 08:30:00", "02/25 08:30:00", ranges("06:00-10:00"), []int{4}},           // inside
		{"02/25 10:00:59", "02/25 10:00:59", ranges("06:00-10:00"), []int{4}},           // the end minute is inside
		{"02/27 23:00:00", "03/02 09:00:00", ranges("09:00-17:00"), []int{2, 6}},        // Friday night → Monday
		{"02/13 14:01:00", "02/14 13:00:00", ranges("13:00-14:00"), nil},                // as Orca without days
		{"02/13 23:30:00", "02/13 23:30:00", ranges("22:00-05:00"), nil},                // crossing midnight
		{"02/13 05:01:00", "02/13 22:00:00", ranges("22:00-05:00"), []int{6, 7}},        // Friday evening
		{"02/14 06:00:00", "02/14 22:00:00", ranges("22:00-05:00"), []int{6, 7}},        // Saturday
		{"02/15 06:00:00", "02/20 00:00:00", ranges("22:00-05:00"), []int{6}},           // next Friday, from midnight
		{"03/08 01:30:00", "03/08 03:00:00", ranges("03:00-04:00"), nil},                // the day clocks go forward
		{"11/01 00:30:00", "11/01 01:00:00", ranges("01:00-01:30", "13:00-14:00"), nil}, // and back
	}
	for _, tt := range tests {
		w := &Window{Whitelist: tt.whitelist, Days: tt.days, StrictDays: true}
		got, err := w.Next(date(tt.now), la)
		if err != nil || !got.Equal(date(tt.want)) {
			t.Errorf("strict %v days %v at %s: Next = %v, %v; want %s", tt.whitelist, tt.days, tt.now, got, err, tt.want)
		}
	}
}

// TestNeverOpens: no range and no day is an error naming why, in both
// computations (Orca: "Couldn't calculate a suitable time").
func TestNeverOpens(t *testing.T) {
	t.Parallel()
	for _, strict := range []bool{false, true} {
		_, err := (&Window{StrictDays: strict}).Next(date("02/13 10:00:00"), la)
		if err == nil || !strings.Contains(err.Error(), "never opens") {
			t.Errorf("strict=%v: Next of an empty window = %v; want it never opens", strict, err)
		}
	}
}

// TestZone: hours are read in the configured zone.
func TestZone(t *testing.T) {
	t.Parallel()
	w := &Window{Whitelist: ranges("09:00-17:00")}
	now := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC) // 07:00 UTC, 08:00 in Berlin
	for _, tt := range []struct {
		loc  *time.Location
		want time.Time
	}{
		{time.UTC, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)},
		{mustLoad("Europe/Berlin"), time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)},
		{mustLoad("Asia/Tokyo"), now}, // 16:00 in Tokyo: inside
	} {
		got, err := w.Next(now, tt.loc)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("in %s: Next = %v, %v; want %v", tt.loc, got, err, tt.want)
		}
	}
}

// TestParse reads a window as Deck writes it and refuses what Orca would
// fail on at run time, naming the field.
func TestParse(t *testing.T) {
	t.Parallel()
	w, err := Parse(map[string]any{"restrictedExecutionWindow": map[string]any{
		"whitelist": []any{map[string]any{"startHour": 22.0, "startMin": 30.0, "endHour": 5.0, "endMin": 0.0}},
		"days":      []any{2.0, 3.0},
		"jitter":    map[string]any{"enabled": true, "minDelay": 0.0, "maxDelay": 600.0, "skipManual": true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Whitelist) != 1 || w.Whitelist[0] != (TimeRange{22*60 + 30, 5 * 60}) || len(w.Days) != 2 || !w.Jitter.Applies() || !w.Jitter.SkipManual {
		t.Errorf("Parse = %+v", w)
	}
	if got := w.Describe(time.UTC); got != "22:30–05:00 UTC on Mon, Tue" {
		t.Errorf("Describe = %q", got)
	}
	for _, tt := range []struct {
		window any
		want   string
	}{
		{nil, "restrictedExecutionWindow: is required"},
		{map[string]any{"whitelist": []any{}}, "restrictedExecutionWindow.whitelist: is empty and so are days"},
		{map[string]any{"whitelist": []any{map[string]any{"startHour": 24.0}}}, "restrictedExecutionWindow.whitelist[0].startHour: must be"},
		{map[string]any{"whitelist": []any{map[string]any{"endMin": 60.0}}}, "restrictedExecutionWindow.whitelist[0].endMin: must be"},
		{map[string]any{"days": []any{0.0}}, "restrictedExecutionWindow.days[0]: must be"},
		{map[string]any{"days": []any{1.0}, "jitter": map[string]any{"enabled": true, "minDelay": 600.0, "maxDelay": 60.0}}, "restrictedExecutionWindow.jitter.minDelay: is 600 seconds, more than maxDelay"},
		{map[string]any{"days": "monday"}, "restrictedExecutionWindow.days: must be a list"},
	} {
		errs := Type{}.Validate(map[string]any{"restrictedExecutionWindow": tt.window})
		if len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want) {
			t.Errorf("Validate(%v) = %v; want %q", tt.window, errs, tt.want)
		}
	}
}

// TestRun runs the window's tasks as the engine does: the window waits
// until it opens, saying when; the jitter waits a delay it draws once,
// between minDelay and maxDelay, unless a manual execution skips it; a
// skip ends both at once.
func TestRun(t *testing.T) {
	t.Parallel()
	fields := func(extra map[string]any) map[string]any {
		f := map[string]any{"restrictedExecutionWindow": map[string]any{
			"whitelist": []any{map[string]any{"startHour": 10.0, "startMin": 0.0, "endHour": 11.0, "endMin": 0.0}},
			"jitter":    map[string]any{"enabled": true, "minDelay": 60.0, "maxDelay": 120.0, "skipManual": true},
		}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	typ := Type{Location: time.UTC}
	if got := typ.Tasks(fields(nil)); len(got) != 2 || got[0] != SuspendTask || got[1] != JitterTask {
		t.Fatalf("Tasks = %v", got)
	}
	run := func(name string, ctx map[string]any, now time.Time, trigger string) stage.Result {
		t.Helper()
		res, err := typ.Run(context.Background(), &stage.Task{Name: name, Context: ctx, Now: now,
			Eval: func(context.Context, any, map[string]any) (any, []string) { return trigger, nil }})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	before := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	res := run(SuspendTask, fields(nil), before, "webhook")
	if res.Status != status.Running || res.RetryAfter != time.Hour || res.Context["scheduledTime"] != before.Add(time.Hour).UnixMilli() {
		t.Errorf("before the window: %+v; want RUNNING for an hour, scheduledTime at 10:00", res)
	}
	if res := run(SuspendTask, fields(map[string]any{SkipKey: true}), before, "webhook"); res.Status != status.Succeeded {
		t.Errorf("skipped: %+v; want SUCCEEDED", res)
	}
	// Orca's window reads the stage's skipRemainingWait too, as text.
	if res := run(SuspendTask, fields(map[string]any{"skipRemainingWait": "true"}), before, "webhook"); res.Status != status.Succeeded {
		t.Errorf("skipRemainingWait: %+v; want SUCCEEDED", res)
	}
	open := before.Add(90 * time.Minute)
	if res := run(SuspendTask, fields(nil), open, "webhook"); res.Status != status.Succeeded {
		t.Errorf("inside the window: %+v; want SUCCEEDED", res)
	}
	ctx := fields(nil)
	res = run(JitterTask, ctx, open, "webhook")
	if res.Status != status.Running || res.RetryAfter < time.Minute || res.RetryAfter > 2*time.Minute {
		t.Fatalf("jitter: %+v; want RUNNING for 60 to 120 s", res)
	}
	maps.Copy(ctx, res.Context)
	if res := run(JitterTask, ctx, open.Add(30*time.Second), "webhook"); res.Status != status.Running || res.RetryAfter > 90*time.Second {
		t.Errorf("jitter again: %+v; want the rest of the same delay", res)
	}
	if res := run(JitterTask, ctx, open.Add(2*time.Minute), "webhook"); res.Status != status.Succeeded {
		t.Errorf("jitter over: %+v; want SUCCEEDED", res)
	}
	if res := run(JitterTask, fields(nil), open, "manual"); res.Status != status.Succeeded {
		t.Errorf("jitter of a manual execution with skipManual: %+v; want SUCCEEDED", res)
	}
}
