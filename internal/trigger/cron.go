package trigger

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// DefaultTimeZone is the time zone of cron expressions whose trigger names
// none: Echo's scheduler.cron.timezone default.
const DefaultTimeZone = "America/Los_Angeles"

// MisfireWindow is how late a tick may start and still fire. Echo's
// Quartz triggers skip misfires (MISFIRE_INSTRUCTION_DO_NOTHING) and its
// MissedPipelineTriggerCompensationJob then starts a tick missed within
// the last ten minutes (scheduler.compensation-job.window-ms); Sluice does
// the same in one place: a tick that runs at most this late fires once
// (every such tick, after a restart that spanned several), and an older
// one is recorded as missed and starts nothing.
const MisfireWindow = 10 * time.Minute

type cronKind struct{}

func (cronKind) Validate(fields map[string]any) []pipeline.FieldProblem {
	var problems []pipeline.FieldProblem
	expr := str(fields, "cronExpression", &problems)
	tz := str(fields, "timeZone", &problems)
	if strings.TrimSpace(expr) == "" {
		if len(problems) == 0 {
			problems = append(problems, pipeline.FieldProblem{Field: "cronExpression",
				Msg: `missing cronExpression; set it in Quartz's syntax with seconds, e.g. "0 0 12 ? * MON-FRI" (noon on weekdays)`})
		}
		return problems
	}
	if tz != "" {
		if _, err := time.LoadLocation(tz); err != nil {
			problems = append(problems, pipeline.FieldProblem{Field: "timeZone",
				Msg: fmt.Sprintf("unknown time zone %q; use an IANA name such as \"UTC\" or \"Europe/Berlin\"", tz)})
		}
	}
	s, err := ParseCron(Key(0, fields), expr, "UTC")
	if err != nil {
		problems = append(problems, pipeline.FieldProblem{Field: "cronExpression", Msg: err.Error()})
	} else if _, err := s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		problems = append(problems, pipeline.FieldProblem{Field: "cronExpression",
			Msg: fmt.Sprintf("%q names no time that exists (a 30th of February?), so it would never fire", expr)})
	}
	return problems
}

// Schedule is a parsed cron trigger.
type Schedule struct {
	Expression string // as written
	TimeZone   string // as used
	loc        *time.Location
	q          *quartzExpr
}

// CronSchedule parses the cron trigger fields of the trigger with key key:
// cronExpression, and timeZone (a Sluice field; Echo has one time zone for
// the whole server, which is defaultTZ, DefaultTimeZone when empty).
func CronSchedule(key string, fields map[string]any, defaultTZ string) (*Schedule, error) {
	expr, _ := fields["cronExpression"].(string)
	tz, _ := fields["timeZone"].(string)
	if tz == "" {
		tz = defaultTZ
	}
	if tz == "" {
		tz = DefaultTimeZone
	}
	return ParseCron(key, expr, tz)
}

// ParseCron parses a Quartz cron expression in time zone tz. H in the
// seconds, minutes and hours fields is replaced by a number drawn from
// key, as Echo's CronExpressionFuzzer does with the trigger's id.
func ParseCron(key, expr, tz string) (*Schedule, error) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: %w", tz, err)
	}
	fields := strings.Fields(expr)
	if len(fields) < 6 || len(fields) > 7 {
		return nil, fmt.Errorf("%q has %d fields; Quartz's syntax has 6 or 7: seconds minutes hours day-of-month month day-of-week [year], e.g. \"0 0 12 ? * MON-FRI\"", expr, len(fields))
	}
	for i, max := range []int{59, 59, 23} {
		fields[i] = strings.ReplaceAll(fields[i], "H", strconv.Itoa(fuzz(key, max)))
	}
	q, err := parseQuartz(fields)
	if err != nil {
		return nil, fmt.Errorf("%q is not a Quartz cron expression: %v", expr, err)
	}
	return &Schedule{Expression: expr, TimeZone: tz, loc: loc, q: q}, nil
}

// fuzz is Echo's hash: Math.abs(id.hashCode() % (max + 1)), with Java's
// String.hashCode over UTF-16 code units.
func fuzz(id string, max int) int {
	var h int32
	for _, r := range id {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	m := h % int32(max+1)
	if m < 0 {
		m = -m
	}
	return int(m)
}

// ErrNoMoreTicks is returned by Next when the expression names no time
// after the one given (a year in the past, say).
var ErrNoMoreTicks = errors.New("the cron expression names no later time")

// Next returns the first tick strictly after t.
func (s *Schedule) Next(t time.Time) (time.Time, error) {
	n, ok := s.q.next(t, s.loc)
	if !ok {
		return time.Time{}, ErrNoMoreTicks
	}
	return n.UTC(), nil
}
