// Package window implements Spinnaker's deployment windows: a stage with
// "restrictExecutionDuringTimeWindow": true waits, before its own tasks,
// until its restrictedExecutionWindow lets it run, then for a random
// jitter if the window asks for one. It is Orca's
// RestrictExecutionDuringTimeWindow: the engine runs this package's Type
// as the first tasks of such a stage (Orca runs it as a synthetic stage
// before it), and a stage of this type on its own waits the same way.
//
// The package computes when a window opens (Next) and parses the window
// (Parse); it does no I/O and keeps no state. Waiting is the engine's: the
// task returns stage.RetryAfter until the window opens, which is a
// scheduled job, never a sleeping goroutine.
package window

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

// Task names, as Orca's.
const (
	SuspendTask = "suspendExecutionDuringTimeWindow"
	JitterTask  = "waitForJitter"
)

// SkipKey is the stage context key the engine sets when someone skips the
// window (stage.SkipWindowKey).
const SkipKey = stage.SkipWindowKey

// Spec is the fields of a stage that reads a window: Orca's keys.
type Spec struct {
	Window struct {
		stage.Field
		Whitelist stage.ListField[Range]          `json:"whitelist" hint:"e.g. [{\"startHour\": 9, \"startMin\": 0, \"endHour\": 17, \"endMin\": 0}]"`
		Days      stage.ListField[stage.IntField] `json:"days" hint:"days of the week, 1 (Sunday) to 7 (Saturday)"`
		Jitter    struct {
			stage.Field
			Enabled    stage.BoolField `json:"enabled"`
			MinDelay   stage.IntField  `json:"minDelay" hint:"seconds"`
			MaxDelay   stage.IntField  `json:"maxDelay" hint:"seconds"`
			SkipManual stage.BoolField `json:"skipManual"`
		} `json:"jitter"`
		// StrictDays is Sluice's, opt-in: see Window.StrictDays.
		StrictDays stage.BoolField `json:"strictDays"`
	} `json:"restrictedExecutionWindow"`
	// SkipWindowText is what Deck shows to whoever skips the window.
	SkipWindowText stage.StringField `json:"skipWindowText"`
	// SkipRemainingWait true lets the stage past its window (Orca's window
	// stage reads it from the stage's context); Run reads it as text.
	SkipRemainingWait stage.JSONField `json:"skipRemainingWait"`
}

// Range is one whitelist entry: a time of day from start to end, both
// inclusive to the minute. An end hour before the start hour crosses
// midnight.
type Range struct {
	stage.Field
	StartHour stage.IntField `json:"startHour"`
	StartMin  stage.IntField `json:"startMin"`
	EndHour   stage.IntField `json:"endHour"`
	EndMin    stage.IntField `json:"endMin"`
}

// Check implements stage.Spec.
func (s *Spec) Check(c *stage.Checker) {
	w := &s.Window
	if w.Missing() {
		c.Errorf(w, `is required with restrictExecutionDuringTimeWindow: true: {"whitelist": [{"startHour", "startMin", "endHour", "endMin"}], "days": [1..7]}`)
		return
	}
	for i := range w.Whitelist.Items {
		r := &w.Whitelist.Items[i]
		if r.Null() {
			c.Errorf(r, "must be an object with startHour, startMin, endHour and endMin")
			continue
		}
		c.Range(&r.StartHour, 0, 23)
		c.Range(&r.EndHour, 0, 23)
		c.Range(&r.StartMin, 0, 59)
		c.Range(&r.EndMin, 0, 59)
		if r.StartHour.Value == r.EndHour.Value && r.StartMin.Value > r.EndMin.Value && !r.StartMin.Expr() && !r.EndMin.Expr() {
			c.Errorf(r, "ends (%02d:%02d) before it starts (%02d:%02d) within one hour, so it never opens: Orca crosses midnight only when endHour is before startHour",
				r.EndHour.Value, r.EndMin.Value, r.StartHour.Value, r.StartMin.Value)
		}
	}
	for i := range w.Days.Items {
		d := &w.Days.Items[i]
		if d.Null() {
			c.Errorf(d, "must be a day of the week, 1 (Sunday) to 7 (Saturday)")
			continue
		}
		c.Range(d, 1, 7)
	}
	noRanges := w.Whitelist.Missing() || w.Whitelist.Set() && len(w.Whitelist.Items) == 0
	noDays := w.Days.Missing() || w.Days.Set() && len(w.Days.Items) == 0
	if noRanges && noDays {
		c.Errorf(&w.Whitelist, "is empty and so are days: the window would never open; list time ranges, days, or both")
	}
	j := &w.Jitter
	if j.Enabled.Value && !j.MinDelay.Expr() && !j.MaxDelay.Expr() {
		c.Range(&j.MinDelay, 0, 7*24*3600)
		c.Range(&j.MaxDelay, 0, 7*24*3600)
		if j.MinDelay.Value > j.MaxDelay.Value && j.MaxDelay.Value > 0 {
			c.Errorf(&j.MinDelay, "is %d seconds, more than maxDelay (%d): the jitter is a random delay between them", j.MinDelay.Value, j.MaxDelay.Value)
		}
	}
}

// Window is a parsed restrictedExecutionWindow.
type Window struct {
	Whitelist []TimeRange
	// Days are the days of the week the window opens on, 1 (Sunday) to 7
	// (Saturday), as Java's Calendar numbers them; none means every day.
	Days []int
	// StrictDays, Sluice's opt-in, keeps to Days. Orca's computation,
	// when it moves to a later day, adds one day too many: asked for
	// Thursdays at 06:00 on a Wednesday evening it opens on Friday 06:00,
	// and at a day's last window's end it opens the next day whatever Days
	// say (its own tests assert both). Without StrictDays Sluice computes
	// as Orca does; with it, the window opens at the first listed time on
	// a listed day.
	StrictDays bool
	// Jitter is a random delay after the window opens.
	Jitter Jitter
}

// TimeRange is a whitelist entry in minutes since midnight, both ends
// inclusive (Orca compares hour and minute only).
type TimeRange struct{ Start, End int }

func (r TimeRange) String() string {
	return fmt.Sprintf("%02d:%02d–%02d:%02d", r.Start/60, r.Start%60, r.End/60, r.End%60)
}

// Jitter is Orca's jitter: when Enabled and MaxDelay > 0, a delay of
// MinDelay to MaxDelay seconds (uniform, both inclusive) after the window
// opens, except for a manual trigger when SkipManual.
type Jitter struct {
	Enabled            bool
	MinDelay, MaxDelay int64
	SkipManual         bool
}

// Applies reports whether the jitter delays a stage.
func (j Jitter) Applies() bool { return j.Enabled && j.MaxDelay > 0 && j.MinDelay <= j.MaxDelay }

// Parse reads the restrictedExecutionWindow of a stage's fields. Problems
// name their field.
func Parse(fields map[string]any) (*Window, error) {
	var s Spec
	if err := stage.Decode(fields, &s); err != nil {
		return nil, err
	}
	return s.window(), nil
}

func (s *Spec) window() *Window {
	w := &Window{StrictDays: s.Window.StrictDays.Value}
	for _, r := range s.Window.Whitelist.Items {
		w.Whitelist = append(w.Whitelist, TimeRange{
			Start: int(r.StartHour.Value*60 + r.StartMin.Value),
			End:   int(r.EndHour.Value*60 + r.EndMin.Value),
		})
	}
	for _, d := range s.Window.Days.Items {
		w.Days = append(w.Days, int(d.Value))
	}
	j := &s.Window.Jitter
	w.Jitter = Jitter{Enabled: j.Enabled.Value, MinDelay: j.MinDelay.Value, MaxDelay: j.MaxDelay.Value, SkipManual: j.SkipManual.Value}
	return w
}

// ErrNeverOpens is returned by Next for a window that never opens: no
// time range and no day (Orca: "Couldn't calculate a suitable time within
// given time windows").
var ErrNeverOpens = errors.New("the execution window never opens: it lists no time range and no day")

// ranges are Orca's normalized windows: the whitelist sorted by start, a
// range whose end hour is before its start hour split at midnight into
// start–23:59 and 00:00–end; a whitelist of none with days is all day.
func (w *Window) ranges() []TimeRange {
	list := w.Whitelist
	if len(list) == 0 && len(w.Days) > 0 {
		list = []TimeRange{{0, 23*60 + 59}}
	}
	var out []TimeRange
	for _, r := range list {
		if r.Start/60 > r.End/60 {
			out = append(out, TimeRange{r.Start, 23*60 + 59}, TimeRange{0, r.End})
		} else {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b TimeRange) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// Next returns the earliest time at or after now at which the window lets
// the stage run, reading times of day and days of the week in loc: now
// itself when it is inside the window.
func (w *Window) Next(now time.Time, loc *time.Location) (time.Time, error) {
	now = now.In(loc)
	if w.StrictDays {
		return w.nextStrict(now)
	}
	return w.nextOrca(now, false)
}

// nextOrca is Orca's SuspendExecutionDuringTimeWindowTask
// .calculateScheduledTime, step for step, quirks included (see
// StrictDays).
func (w *Window) nextOrca(t time.Time, dayIncremented bool) (time.Time, error) {
	ranges := w.ranges()
	todayValid := true
	if len(w.Days) > 0 {
		for inc := 0; inc < 7; inc++ {
			if slices.Contains(w.Days, int(t.Weekday())+1) {
				todayValid = inc == 0
				break
			}
			t = at(t, 1, 0) // the next day, at midnight
		}
	}
	inWindow := false
	if todayValid {
		hm := t.Hour()*60 + t.Minute()
		for _, r := range ranges {
			if hm < r.Start {
				t = at(t, 0, r.Start)
				inWindow = true
				break
			}
			if hm <= r.End {
				inWindow = true
				break
			}
		}
	}
	if !inWindow {
		if dayIncremented {
			return time.Time{}, ErrNeverOpens
		}
		return w.nextOrca(at(t, 0, 0), true)
	}
	if dayIncremented {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// nextStrict is the first time at or after t inside a range on a listed
// day.
func (w *Window) nextStrict(t time.Time) (time.Time, error) {
	ranges := w.ranges()
	for d := 0; d <= 7; d++ {
		day := at(t, d, 0)
		if len(w.Days) > 0 && !slices.Contains(w.Days, int(day.Weekday())+1) {
			continue
		}
		for _, r := range ranges {
			if r.Start > r.End {
				continue // never open (refused when the pipeline is saved)
			}
			start, end := at(day, 0, r.Start), at(day, 0, r.End).Add(time.Minute)
			if d == 0 && !t.Before(end) {
				continue
			}
			if d == 0 && t.After(start) {
				return t, nil
			}
			return start, nil
		}
	}
	return time.Time{}, ErrNeverOpens
}

// at is the day days after t's, at minute of the day (seconds zero), in
// t's location.
func at(t time.Time, days, minute int) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d+days, minute/60, minute%60, 0, 0, t.Location())
}

// Describe says what the window is, for messages: "09:00–17:00 on Mon,
// Tue" or "all day on Sat".
func (w *Window) Describe(loc *time.Location) string {
	var parts []string
	for _, r := range w.Whitelist {
		parts = append(parts, r.String())
	}
	what := strings.Join(parts, ", ")
	if what == "" {
		what = "all day"
	}
	what += " " + loc.String()
	if len(w.Days) > 0 {
		var names []string
		for _, d := range w.Days {
			if d >= 1 && d <= 7 {
				names = append(names, time.Weekday(d - 1).String()[:3])
			}
		}
		what += " on " + strings.Join(names, ", ")
	}
	return what
}

// Type runs the window's tasks. Its Location is the time zone windows are
// read in: sluice.yaml's executionWindow.timeZone, UTC by default (Orca's
// tasks.execution-window.timezone, whose default is America/Los_Angeles).
type Type struct {
	Location *time.Location
}

// Name is Orca's name for the synthetic window stage; the engine looks the
// type up by it.
func (Type) Name() string { return pipeline.ExecutionWindowType }

func (t Type) loc() *time.Location { return cmp.Or(t.Location, time.UTC) }

// KnownFields implements stage.FieldDeclarer.
func (Type) KnownFields() *pipeline.KnownFields { return stage.KnownFields(&Spec{}) }

func (Type) Validate(fields map[string]any) []stage.FieldError {
	return stage.Validate(fields, &Spec{})
}

// Tasks are Orca's: wait for the window, then for the jitter when it
// applies (whether a manual trigger skips it is known when it runs).
func (Type) Tasks(fields map[string]any) []string {
	var s Spec
	_ = stage.Decode(fields, &s)
	if s.window().Jitter.Applies() {
		return []string{SuspendTask, JitterTask}
	}
	return []string{SuspendTask}
}

// Context keys the tasks write.
const (
	scheduledTimeKey = "scheduledTime"    // epoch ms the window opens (Orca's stage.scheduledTime)
	jitterUntilKey   = "jitterUntil"      // epoch ms the jitter ends
	jitterSecondsKey = "jitterWaitTime"   // the jitter drawn, seconds
	windowOpenedKey  = "windowOpenedTime" // epoch ms the window let the stage run
)

func (t Type) Run(ctx context.Context, task *stage.Task) (stage.Result, error) {
	var s Spec
	if err := stage.Decode(task.Context, &s); err != nil {
		return stage.Fail(err.Error()), nil
	}
	w := s.window()
	// Skipped by hand, or by a skipRemainingWait the stage's document
	// sets: Orca's window stage reads it from the context it copies from
	// the stage, as text ("true").
	skipped, _ := task.Context[SkipKey].(bool)
	if b, err := strconv.ParseBool(fmt.Sprint(task.Context["skipRemainingWait"])); err == nil && b {
		skipped = true
	}
	switch task.Name {
	case SuspendTask:
		if skipped {
			return stage.Succeed().WithContext(map[string]any{stage.ProgressKey: "execution window skipped"}), nil
		}
		next, err := w.Next(task.Now, t.loc())
		if err != nil {
			return stage.Fail("restrictedExecutionWindow: " + err.Error()), nil
		}
		if !task.Now.Before(next) {
			return stage.Succeed().WithContext(map[string]any{windowOpenedKey: task.Now.UnixMilli()}), nil
		}
		msg := fmt.Sprintf("waiting for the execution window (%s): it opens %s, in %s; skip it with sluice execution skip-wait or the console",
			w.Describe(t.loc()), next.Format("Mon 2006-01-02 15:04 MST"), next.Sub(task.Now).Round(time.Second))
		if text := strings.TrimSpace(s.SkipWindowText.Value); text != "" {
			msg += " (" + text + ")"
		}
		return stage.RetryAfter(next.Sub(task.Now)).WithContext(map[string]any{
			scheduledTimeKey: next.UnixMilli(), stage.ProgressKey: msg,
		}), nil
	case JitterTask:
		if skipped || !w.Jitter.Applies() {
			return stage.Succeed(), nil
		}
		if w.Jitter.SkipManual {
			typ, _ := task.Eval(ctx, "${trigger.type}", nil)
			if typ == "manual" {
				return stage.Succeed().WithContext(map[string]any{stage.ProgressKey: "jitter skipped: the execution was started by hand"}), nil
			}
		}
		until, ok, _ := stage.Number(task.Context, jitterUntilKey)
		if !ok {
			secs := w.Jitter.MinDelay + rand.Int64N(w.Jitter.MaxDelay-w.Jitter.MinDelay+1)
			end := task.Now.Add(time.Duration(secs) * time.Second)
			return stage.RetryAfter(end.Sub(task.Now)).WithContext(map[string]any{
				jitterSecondsKey: secs, jitterUntilKey: end.UnixMilli(),
				stage.ProgressKey: fmt.Sprintf("the execution window is open; waiting a random %ds (jitter) until %s", secs, end.Format("15:04:05 MST")),
			}), nil
		}
		end := time.UnixMilli(int64(until))
		if task.Now.Before(end) {
			return stage.RetryAfter(end.Sub(task.Now)), nil
		}
		return stage.Succeed(), nil
	}
	return stage.Failf("the execution window has no task %q", task.Name), nil
}

var (
	_ stage.Type          = Type{}
	_ stage.FieldDeclarer = Type{}
	_ stage.Spec          = (*Spec)(nil)
)
