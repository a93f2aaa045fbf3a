package cli

import (
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "2026-01-02"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) succeeded", bad)
		}
	}
}

func TestAuditWhat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    apitype.AuditEntry
		want string
	}{
		{apitype.AuditEntry{}, "-"},
		{apitype.AuditEntry{Application: "hello", Pipeline: "deploy", Details: map[string]any{"revision": float64(2)}}, "hello/deploy revision=2"},
		{apitype.AuditEntry{Application: "hello", Pipeline: "deploy", ExecutionID: "e1", StageID: "s1",
			Details: map[string]any{"status": "continue", "input": "promote"}}, "hello/deploy execution e1 stage s1 input=promote status=continue"},
		{apitype.AuditEntry{Details: map[string]any{"token": "ci", "roles": []any{"deployer"}}}, `roles=["deployer"] token=ci`},
	}
	for _, tt := range tests {
		if got := auditWhat(tt.e); got != tt.want {
			t.Errorf("auditWhat(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}
