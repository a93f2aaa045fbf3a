package node

import (
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
)

// DefaultRetainedExecutions is how many executions of each application
// are kept when sluice.yaml has no retention section, or one that sets
// no executions.
const DefaultRetainedExecutions = 10000

// minRetentionInterval bounds retention.interval from below.
const minRetentionInterval = time.Minute

// retentionConfig is the retention section of sluice.yaml
// (docs/operating.md): which executions are kept, for all applications and
// for some, and how often the rest is deleted. A limit left out of an
// application's entry is the section's.
type retentionConfig struct {
	retentionLimits
	// Interval is how often the retention job runs, a Go duration of at
	// least a minute (engine.DefaultRetentionInterval).
	Interval     string                     `json:"interval"`
	Applications map[string]retentionLimits `json:"applications"`

	interval time.Duration // Interval, parsed by check
}

// retentionLimits are the limits of one policy; nil is "not given".
type retentionLimits struct {
	// Executions keeps the newest N executions of an application; 0 sets
	// no limit by count.
	Executions *int `json:"executions"`
	// Days keeps executions created in the last D days; 0 sets no limit
	// by age.
	Days *int `json:"days"`
}

// check validates the section and parses its interval.
func (c *retentionConfig) check() error {
	if c.Interval != "" {
		d, err := time.ParseDuration(c.Interval)
		if err != nil || d < minRetentionInterval {
			return fmt.Errorf("interval %q is not a duration of at least %s, such as 1h or 30m", c.Interval, minRetentionInterval)
		}
		c.interval = d
	}
	if err := c.retentionLimits.check("retention"); err != nil {
		return err
	}
	for app, l := range c.Applications {
		if err := l.check("applications." + app); err != nil {
			return err
		}
	}
	return nil
}

func (l retentionLimits) check(where string) error {
	if l.Executions != nil && *l.Executions < 0 {
		return fmt.Errorf("%s: executions is %d; give how many executions to keep, or 0 for no limit by count", where, *l.Executions)
	}
	if l.Days != nil && *l.Days < 0 {
		return fmt.Errorf("%s: days is %d; give how many days to keep executions, or 0 for no limit by age", where, *l.Days)
	}
	return nil
}

// policy is l with the limits it leaves out taken from base.
func (l retentionLimits) policy(base engine.RetentionPolicy) engine.RetentionPolicy {
	p := base
	if l.Executions != nil {
		p.Executions = *l.Executions
	}
	if l.Days != nil {
		p.MaxAge = time.Duration(*l.Days) * 24 * time.Hour
	}
	return p
}

// engine returns the engine's retention settings.
func (c *retentionConfig) engine() engine.Retention {
	r := engine.Retention{
		Default:  c.retentionLimits.policy(engine.RetentionPolicy{Executions: DefaultRetainedExecutions}),
		Interval: c.interval,
	}
	if len(c.Applications) > 0 {
		r.Applications = make(map[string]engine.RetentionPolicy, len(c.Applications))
		for app, l := range c.Applications {
			r.Applications[app] = l.policy(r.Default)
		}
	}
	return r
}
