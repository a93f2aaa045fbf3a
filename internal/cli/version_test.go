package cli

import (
	"runtime/debug"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	t.Parallel()
	stamped := func(settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Settings: append([]debug.BuildSetting{{Key: "vcs", Value: "git"}}, settings...)}
	}
	tests := []struct {
		name, version string
		bi            *debug.BuildInfo
		want          string
	}{
		{"built in a clean checkout", "(devel)",
			stamped(debug.BuildSetting{Key: "vcs.revision", Value: "352107d1a2b3c4d5e6f708192a3b4c5d6e7f8091"}, debug.BuildSetting{Key: "vcs.modified", Value: "false"}),
			"sluice (devel) (commit 352107d1a2b3, go1.26.8 linux/amd64)"},
		{"built with uncommitted changes", "(devel)",
			stamped(debug.BuildSetting{Key: "vcs.revision", Value: "352107d1a2b3c4d5e6f708192a3b4c5d6e7f8091"}, debug.BuildSetting{Key: "vcs.modified", Value: "true"}),
			"sluice (devel) (commit 352107d1a2b3 with uncommitted changes, go1.26.8 linux/amd64)"},
		{"go install at a version", "v1.2.3", &debug.BuildInfo{},
			"sluice v1.2.3 (commit unknown, go1.26.8 linux/amd64)"},
		{"no build info", "(devel)", nil,
			"sluice (devel) (commit unknown, go1.26.8 linux/amd64)"},
	}
	for _, tt := range tests {
		if got := describeBuild(tt.version, tt.bi, "go1.26.8", "linux/amd64"); got != tt.want {
			t.Errorf("%s: describeBuild = %q, want %q", tt.name, got, tt.want)
		}
	}
}
