package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseFileConfig(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLUICE_TEST_SLACK_TOKEN", "xoxb-env")
	cfg, err := ParseFileConfig([]byte(`{"allowedHosts": ["hooks.slack.com"], "timeout": "3s",
		"slack": {"tokenEnv": "SLUICE_TEST_SLACK_TOKEN"},
		"smtp": {"host": "smtp.example.com", "username": "u", "passwordFile": "`+pwFile+`", "from": "s@example.com"}}`), "https://sluice.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeout != 3*time.Second || cfg.Slack.Token != "xoxb-env" || cfg.SMTP.Password != "s3cret" || !cfg.SMTP.StartTLS ||
		cfg.ExternalURL != "https://sluice.example.com" || cfg.AllowedHosts.CheckRawURL("https://hooks.slack.com/x") != nil || cfg.AllowedHosts.CheckRawURL("http://localhost/x") == nil {
		t.Errorf("config %+v, smtp %+v", cfg, cfg.SMTP)
	}

	for _, tt := range []struct{ raw, want string }{
		{`{"slak": {}}`, `unknown field "slak"`},
		{`{"allowedHosts": ["https://x"]}`, "notifications.allowedHosts[0]"},
		{`{"timeout": "soon"}`, "notifications.timeout"},
		{`{"smtp": {"from": "s@example.com"}}`, "notifications.smtp.host is required"},
		{`{"smtp": {"host": "h", "from": "nobody"}}`, "notifications.smtp.from"},
		{`{"smtp": {"host": "h", "from": "a@b", "password": "x", "passwordEnv": "Y"}}`, "give one of"},
		{`{"slack": {"tokenEnv": "SLUICE_TEST_UNSET_VARIABLE"}}`, "SLUICE_TEST_UNSET_VARIABLE is not set"},
		{`{"slack": {"apiURL": "slack.com/api"}}`, "notifications.slack.apiURL"},
	} {
		if _, err := ParseFileConfig([]byte(tt.raw), ""); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseFileConfig(%s): %v, want an error with %q", tt.raw, err, tt.want)
		}
	}
}
