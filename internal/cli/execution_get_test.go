package cli

import (
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// TestPrintNotifications: `sluice execution get` lists each delivery with
// its event, stage, channel, address, result, attempts and error.
func TestPrintNotifications(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	printNotifications(&b, []apitype.NotificationDelivery{
		{ID: "e/0", Event: "pipeline.starting", Type: "slack", Address: "https://hooks.slack.com/…", Status: "SUCCEEDED", Attempts: 3},
		{ID: "e/1", Event: "manualJudgment", StageRefID: "2", Type: "email", Address: "ops@example.com", Status: "FAILED", Attempts: 1,
			Error: "mail server: RCPT TO: 550 no such user"},
	})
	want := "notifications\n" +
		"  pipeline.starting         slack  https://hooks.slack.com/…  SUCCEEDED  3 attempts\n" +
		"  manualJudgment (stage 2)  email  ops@example.com            FAILED     1 attempt  mail server: RCPT TO: 550 no such user\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printNotifications(&b, nil)
	if b.Len() != 0 {
		t.Errorf("no deliveries printed %q, want nothing", b.String())
	}
}
