package node

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/engine"
)

// TestRetentionConfig: sluice.yaml's retention section, with the built-in
// default when it is absent and per-application entries that take what
// they leave out from the section.
func TestRetentionConfig(t *testing.T) {
	t.Parallel()
	load := func(body string) (config, error) {
		path := filepath.Join(t.TempDir(), "sluice.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(path)
	}
	day := 24 * time.Hour
	for body, want := range map[string]engine.Retention{
		"":                              {Default: engine.RetentionPolicy{Executions: DefaultRetainedExecutions}},
		"retention:\n  days: 30\n":      {Default: engine.RetentionPolicy{Executions: DefaultRetainedExecutions, MaxAge: 30 * day}},
		"retention:\n  executions: 0\n": {},
		"retention:\n  executions: 100\n  days: 90\n  interval: 30m\n  applications:\n    hello: {executions: 5}\n    keep: {executions: 0, days: 0}\n": {
			Default:  engine.RetentionPolicy{Executions: 100, MaxAge: 90 * day},
			Interval: 30 * time.Minute,
			Applications: map[string]engine.RetentionPolicy{
				"hello": {Executions: 5, MaxAge: 90 * day},
				"keep":  {},
			},
		},
	} {
		cfg, err := load(body)
		if err != nil {
			t.Errorf("%q: %v", body, err)
			continue
		}
		if got := cfg.Retention.engine(); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: retention = %+v, want %+v", body, got, want)
		}
	}
	for body, want := range map[string]string{
		"retention:\n  executions: -1\n":                       "retention: executions is -1",
		"retention:\n  applications:\n    a: {days: -2}\n":     "applications.a: days is -2",
		"retention:\n  interval: 10s\n":                        `interval "10s" is not a duration of at least 1m0s`,
		"retention:\n  interval: soon\n":                       `interval "soon"`,
		"retention:\n  keep: 5\n":                              "unknown field",
		"retention:\n  applications:\n    a: {interval: 1h}\n": "unknown field",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
}
