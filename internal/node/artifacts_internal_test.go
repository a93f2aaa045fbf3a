package node

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestArtifactsConfig: sluice.yaml's artifacts section, checked, with the
// GitHub token read from its file (relative to sluice.yaml).
func TestArtifactsConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gh-token"), []byte("ghp_abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(body string) (config, error) {
		path := filepath.Join(t.TempDir(), "sluice.yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return loadConfig(path)
	}
	cfg, err := load("artifacts:\n  http:\n    allowedHosts: [files.example.com, 10.0.0.7]\n  github:\n    tokenFile: " + filepath.Join(dir, "gh-token") + "\n    apiUrl: https://ghe.example.com/api/v3\n")
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.artifactOptions
	if o.GitHubToken != "ghp_abc" || o.GitHubAPIURL != "https://ghe.example.com/api/v3" || !slices.Equal(o.HTTP.Entries(), []string{"files.example.com", "10.0.0.7"}) {
		t.Errorf("artifact options = %+v", o)
	}
	for body, want := range map[string]string{
		"artifacts:\n  http:\n    allowedHosts: ['https://x.example.com']\n": `artifacts.http.allowedHosts[0] "https://x.example.com" is not a host name`,
		"artifacts:\n  github:\n    token: a\n    tokenFile: b\n":            "give token or tokenFile, not both",
		"artifacts:\n  github:\n    tokenFile: /nonexistent/token\n":         "artifacts.github.tokenFile",
		"artifacts:\n  github:\n    apiUrl: ftp://x\n":                       `artifacts.github.apiUrl "ftp://x" must be an http(s) URL`,
		"artifacts:\n  gitlab: {}\n":                                         "unknown field",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", body, err, want)
		}
	}
}
