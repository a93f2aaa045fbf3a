package trigger

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// quartzExpr is a parsed Quartz cron expression (org.quartz.CronExpression):
// seconds minutes hours day-of-month month day-of-week [year].
type quartzExpr struct {
	sec, min, hour, month set
	years                 set // empty: any year
	dom                   domSpec
	dow                   dowSpec
}

// set is a set of small numbers.
type set map[int]bool

// domSpec is the day-of-month field: any (?), a set, or one of L, L-n,
// LW and nW.
type domSpec struct {
	any     bool
	days    set
	last    bool // L or L-n: the last day less offset
	offset  int
	weekday bool // W: the weekday nearest to the day (or to the last with L)
	day     int  // nW
}

// dowSpec is the day-of-week field (1 = SUN … 7 = SAT): any (?), a set,
// nL (the last such weekday of the month) or n#k (the k-th).
type dowSpec struct {
	any  bool
	days set
	last int // nL: the weekday
	nth  int // n#k: k
	wd   int // n#k: the weekday
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// parseQuartz parses the six or seven fields of a Quartz expression.
func parseQuartz(fields []string) (*quartzExpr, error) {
	e := &quartzExpr{}
	var err error
	if e.sec, err = parseSet("seconds", fields[0], 0, 59, nil); err != nil {
		return nil, err
	}
	if e.min, err = parseSet("minutes", fields[1], 0, 59, nil); err != nil {
		return nil, err
	}
	if e.hour, err = parseSet("hours", fields[2], 0, 23, nil); err != nil {
		return nil, err
	}
	if e.month, err = parseSet("month", fields[4], 1, 12, monthNames); err != nil {
		return nil, err
	}
	if len(fields) == 7 && fields[6] != "*" {
		if e.years, err = parseSet("year", fields[6], 1970, 2199, nil); err != nil {
			return nil, err
		}
	}
	if e.dom, err = parseDOM(fields[3]); err != nil {
		return nil, err
	}
	if e.dow, err = parseDOW(fields[5]); err != nil {
		return nil, err
	}
	if e.dom.any == e.dow.any {
		return nil, fmt.Errorf("exactly one of day-of-month (%s) and day-of-week (%s) must be ?, as Quartz requires; e.g. \"0 0 12 * * ?\" or \"0 0 12 ? * MON\"", fields[3], fields[5])
	}
	return e, nil
}

// parseSet parses a comma-separated list of *, n, a-b, with /step, in
// [lo, hi]; names, when given, stand for lo, lo+1, ….
func parseSet(what, field string, lo, hi int, names []string) (set, error) {
	s := set{}
	for _, item := range strings.Split(field, ",") {
		rng, step := item, 1
		if i := strings.IndexByte(item, '/'); i >= 0 {
			n, err := strconv.Atoi(item[i+1:])
			if err != nil || n < 1 || n > hi-lo+1 {
				return nil, fmt.Errorf("%s: bad step in %q; after / comes a number from 1 to %d", what, item, hi-lo+1)
			}
			rng, step = item[:i], n
		}
		var from, to int
		switch {
		case rng == "*" || (rng == "" && step > 1):
			from, to = lo, hi
		default:
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if from, err = value(what, a, lo, hi, names); err != nil {
				return nil, err
			}
			to = from
			if isRange {
				if to, err = value(what, b, lo, hi, names); err != nil {
					return nil, err
				}
			} else if step > 1 {
				to = hi // n/step: from n to the end
			}
		}
		// A range may wrap (22-2, FRI-MON), as in Quartz.
		for i, n := 0, from; ; i++ {
			if i%step == 0 {
				s[n] = true
			}
			if n == to {
				break
			}
			if n++; n > hi {
				n = lo
			}
		}
	}
	return s, nil
}

func value(what, v string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(v, n) {
			return lo + i, nil
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		hint := ""
		if names != nil {
			hint = fmt.Sprintf(" or %s-%s", names[0], names[len(names)-1])
		}
		return 0, fmt.Errorf("%s: %q is not a value from %d to %d%s", what, v, lo, hi, hint)
	}
	return n, nil
}

func parseDOM(f string) (domSpec, error) {
	u := strings.ToUpper(f)
	switch {
	case u == "?":
		return domSpec{any: true}, nil
	case u == "L":
		return domSpec{last: true}, nil
	case u == "LW":
		return domSpec{last: true, weekday: true}, nil
	case strings.HasPrefix(u, "L-"):
		n, err := strconv.Atoi(u[2:])
		if err != nil || n < 0 || n > 30 {
			return domSpec{}, fmt.Errorf("day-of-month: %q: L-n takes n from 0 to 30", f)
		}
		return domSpec{last: true, offset: n}, nil
	case strings.HasSuffix(u, "W"):
		n, err := strconv.Atoi(u[:len(u)-1])
		if err != nil || n < 1 || n > 31 {
			return domSpec{}, fmt.Errorf("day-of-month: %q: nW takes one day from 1 to 31 (no lists or ranges)", f)
		}
		return domSpec{weekday: true, day: n}, nil
	}
	s, err := parseSet("day-of-month", f, 1, 31, nil)
	return domSpec{days: s}, err
}

func parseDOW(f string) (dowSpec, error) {
	u := strings.ToUpper(f)
	switch {
	case u == "?":
		return dowSpec{any: true}, nil
	case u == "L":
		return dowSpec{days: set{7: true}}, nil
	case strings.HasSuffix(u, "L"):
		d, err := value("day-of-week", u[:len(u)-1], 1, 7, dayNames)
		if err != nil {
			return dowSpec{}, fmt.Errorf("day-of-week: %q: nL takes one weekday (1-7 or SUN-SAT)", f)
		}
		return dowSpec{last: d}, nil
	case strings.Contains(u, "#"):
		a, b, _ := strings.Cut(u, "#")
		d, err := value("day-of-week", a, 1, 7, dayNames)
		if err != nil {
			return dowSpec{}, err
		}
		k, err := strconv.Atoi(b)
		if err != nil || k < 1 || k > 5 {
			return dowSpec{}, fmt.Errorf("day-of-week: %q: n#k takes k from 1 to 5", f)
		}
		return dowSpec{wd: d, nth: k}, nil
	}
	s, err := parseSet("day-of-week", f, 1, 7, dayNames)
	return dowSpec{days: s}, err
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC).Day()
}

// weekday is Quartz's: 1 = Sunday … 7 = Saturday.
func weekday(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 12, 0, 0, 0, time.UTC).Weekday()) + 1
}

// dayMatches reports whether the date is a day of the expression.
func (e *quartzExpr) dayMatches(y int, m time.Month, d int) bool {
	last := daysIn(y, m)
	switch dm := e.dom; {
	case dm.any:
	case dm.last && dm.weekday:
		t := last
		switch weekday(y, m, last) {
		case 7:
			t--
		case 1:
			t -= 2
		}
		if d != t {
			return false
		}
	case dm.last:
		if d != last-dm.offset {
			return false
		}
	case dm.weekday:
		if dm.day > last {
			return false
		}
		t := dm.day
		switch weekday(y, m, t) {
		case 7: // Saturday: the Friday before, or the Monday after the 1st
			if t == 1 {
				t += 2
			} else {
				t--
			}
		case 1: // Sunday: the Monday after, or the Friday before the last
			if t == last {
				t -= 2
			} else {
				t++
			}
		}
		if d != t {
			return false
		}
	default:
		if !dm.days[d] {
			return false
		}
	}
	wd := weekday(y, m, d)
	switch dw := e.dow; {
	case dw.any:
		return true
	case dw.last > 0:
		return wd == dw.last && d+7 > last
	case dw.nth > 0:
		return wd == dw.wd && (d-1)/7+1 == dw.nth
	default:
		return dw.days[wd]
	}
}

// searchYears bounds the search for the next tick.
const searchYears = 150

// next returns the first time after `after` the expression names in loc,
// and false when there is none within searchYears.
func (e *quartzExpr) next(after time.Time, loc *time.Location) (time.Time, bool) {
	start := time.Unix(after.Unix()+1, 0).In(loc)
	y, m, d := start.Date()
	first := true
	limit := y + searchYears
	for y <= limit {
		switch {
		case len(e.years) > 0 && !e.years[y]:
			y, m, d, first = y+1, time.January, 1, false
			continue
		case !e.month[int(m)]:
			if m == time.December {
				y, m = y+1, time.January
			} else {
				m++
			}
			d, first = 1, false
			continue
		}
		if e.dayMatches(y, m, d) {
			if t, ok := e.timeOn(y, m, d, loc, start, first); ok {
				return t, true
			}
		}
		first = false
		if d++; d > daysIn(y, m) {
			d = 1
			if m == time.December {
				y, m = y+1, time.January
			} else {
				m++
			}
		}
	}
	return time.Time{}, false
}

// timeOn returns the first time of the day that the expression names, at
// or after start when first; a local time the day does not have (a
// daylight-saving gap) is skipped.
func (e *quartzExpr) timeOn(y int, m time.Month, d int, loc *time.Location, start time.Time, first bool) (time.Time, bool) {
	for h := 0; h < 24; h++ {
		if !e.hour[h] || (first && h < start.Hour()) {
			continue
		}
		for mi := 0; mi < 60; mi++ {
			if !e.min[mi] || (first && h == start.Hour() && mi < start.Minute()) {
				continue
			}
			for s := 0; s < 60; s++ {
				if !e.sec[s] {
					continue
				}
				t := time.Date(y, m, d, h, mi, s, 0, loc)
				if t.Hour() != h || t.Minute() != mi || t.Day() != d {
					continue // not a time this day has
				}
				if !t.Before(start) {
					return t, true
				}
			}
		}
	}
	return time.Time{}, false
}
