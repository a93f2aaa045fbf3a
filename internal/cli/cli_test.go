package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

// run runs the CLI in-process with an environment of env.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestMainExitCodes(t *testing.T) {
	t.Parallel()
	env := map[string]string{EnvServer: "http://127.0.0.1:1"}
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"version"}, ExitOK, ""},
		{[]string{}, ExitOK, ""},
		{[]string{"pipeline"}, ExitOK, ""},
		{[]string{"nope"}, ExitUsage, `unknown command "nope"`},
		{[]string{"pipeline", "nope"}, ExitUsage, `unknown command "nope" for "sluice pipeline"`},
		{[]string{"execution", "get"}, ExitUsage, "missing EXECUTION"},
		{[]string{"run", "x/y", "--follow=maybe"}, ExitUsage, "invalid argument"},
		{[]string{"serve", "--log-level", "loud"}, ExitUsage, `--log-level "loud"`},
		{[]string{"serve", "--database-url", "mysql://x"}, ExitUsage, "not a postgres:// URL"},
		{[]string{"execution", "list"}, ExitUsage, "is 'sluice serve' running at http://127.0.0.1:1?"},
		{[]string{"--server", "ftp://x", "execution", "list"}, ExitUsage, "scheme must be http or https"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantStderr)
			}
		})
	}
}

func TestServerDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flag, env, want string
	}{
		{"", "", DefaultServer},
		{"", "http://env:1", "http://env:1"},
		{"http://flag:2", "http://env:1", "http://flag:2"},
	}
	for _, tt := range tests {
		a := &app{server: tt.flag, getenv: func(k string) string {
			if k == EnvServer {
				return tt.env
			}
			return ""
		}}
		if got := a.serverURL(); got != tt.want {
			t.Errorf("serverURL(flag %q, env %q) = %q, want %q", tt.flag, tt.env, got, tt.want)
		}
	}
}

func TestReportAPIError(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	a := &app{stderr: &stderr, getenv: func(string) string { return "" }}
	code := a.report(context.Background(), fmt.Errorf("save pipeline: %w", &apiclient.Error{
		Status: 400, Code: "invalid_pipeline", Message: "the pipeline is invalid: 2 problems",
		Details: []apiclient.Detail{{Path: "stages[0].refId", Message: "missing"}, {Path: "stages[1].type", Message: "unknown"}},
	}))
	want := "sluice: save pipeline: the pipeline is invalid: 2 problems\n  stages[0].refId: missing\n  stages[1].type: unknown\n"
	if code != ExitFailed || stderr.String() != want {
		t.Errorf("report = %d %q, want %d %q", code, stderr.String(), ExitFailed, want)
	}
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	got, err := parseParams([]string{"env=prod", "expr=a=b", "empty=", "env=staging"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"env": "staging", "expr": "a=b", "empty": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseParams = %v, want %v", got, want)
	}
	for _, bad := range []string{"noequals", "=value"} {
		if _, err := parseParams([]string{bad}); err == nil {
			t.Errorf("parseParams(%q) succeeded", bad)
		}
	}
}

func ms(t time.Time) *int64 { v := t.UnixMilli(); return &v }

func TestRenderBoard(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &apitype.Execution{
		ID: "e1", Application: "demo", PipelineName: "hello", Status: "RUNNING", StartTime: ms(t0),
		Stages: []apitype.Stage{
			{RefID: "3", Name: "Later", Type: "wait", Status: "NOT_STARTED"},
			{RefID: "2", Name: "Approve", Type: "manualJudgment", Status: "RUNNING", StartTime: ms(t0.Add(12 * time.Second))},
			{RefID: "1", Name: "Wait", Type: "wait", Status: "SUCCEEDED", StartTime: ms(t0), EndTime: ms(t0.Add(12 * time.Second))},
			{RefID: "4", Name: "Check", Type: "checkPreconditions", Status: "TERMINAL", StartTime: ms(t0.Add(13 * time.Second)),
				EndTime: ms(t0.Add(14 * time.Second)), Context: json.RawMessage(`{"error":"precondition failed\nmore"}`)},
			{RefID: "5", Name: "Maybe", Type: "wait", Status: "SKIPPED", EndTime: ms(t0.Add(14 * time.Second)),
				Context: json.RawMessage(`{"skipReason":"skipped because its condition (stageEnabled \"false\") is false"}`)},
		},
	}
	got := renderBoard(e, t0.Add(75*time.Second), false)
	want := `demo/hello  e1  RUNNING  1m15s
  ✓ 1  Wait     wait                SUCCEEDED        12s
  ● 2  Approve  manualJudgment      RUNNING          1m03s
    waiting for a judgment: sluice judge e1 2 continue|stop
  ✗ 4  Check    checkPreconditions  TERMINAL         1s
    precondition failed
  · 3  Later    wait                NOT_STARTED
  ↷ 5  Maybe    wait                SKIPPED
    skipped because its condition (stageEnabled "false") is false
`
	if got != want {
		t.Errorf("renderBoard =\n%s\nwant\n%s", got, want)
	}

	// The board moves back over its previous drawing.
	var buf bytes.Buffer
	b := &board{w: &buf}
	b.draw(e, t0)
	b.draw(e, t0)
	if n := strings.Count(buf.String(), "\x1b[9A"); n != 1 {
		t.Errorf("second draw moved up %d times by 9 lines, want once:\n%q", n, buf.String())
	}
}

func TestFormatEvent(t *testing.T) {
	t.Parallel()
	stages := map[string]apitype.Stage{"s1": {ID: "s1", RefID: "2", Name: "Approve"}}
	tests := []struct {
		ev   apitype.Event
		want string
	}{
		{apitype.Event{Type: "execution.status", Data: json.RawMessage(`{"status":"RUNNING"}`)}, "execution status RUNNING"},
		{apitype.Event{Type: "stage.status", StageID: "s9", Data: json.RawMessage(`{"status":"SKIPPED","refId":"3","name":"Maybe","reason":"stageEnabled is false"}`)},
			`stage 3 (Maybe) status SKIPPED reason="stageEnabled is false"`},
		{apitype.Event{Type: "stage.judged", StageID: "s1", Data: json.RawMessage(`{"judgmentStatus":"continue","user":"bob","judgmentInput":""}`)},
			"stage 2 (Approve) judged judgmentStatus=continue user=bob"},
		{apitype.Event{Type: "task.status", StageID: "s1", Data: json.RawMessage(`{"task":"waitForJudgment","status":"RUNNING","refId":"2","name":"Approve"}`)},
			"stage 2 (Approve) task waitForJudgment RUNNING"},
		{apitype.Event{Type: "audit.something"}, "audit.something"},
	}
	for _, tt := range tests {
		got := formatEvent(tt.ev, stages)
		// Drop the local time of day.
		if _, rest, ok := strings.Cut(got, " "); ok {
			got = rest
		}
		if got != tt.want {
			t.Errorf("formatEvent(%s) = %q, want %q", tt.ev.Type, got, tt.want)
		}
	}
}

func TestExecutionExit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e        apitype.Execution
		wantCode int
		wantMsg  string
	}{
		{apitype.Execution{ID: "e", Status: "SUCCEEDED"}, ExitOK, ""},
		{apitype.Execution{ID: "e", Status: "CANCELED", State: json.RawMessage(`{"canceledBy":"bob","cancellationReason":"wrong build"}`)},
			ExitCanceled, "execution e was canceled by bob: wrong build"},
		{apitype.Execution{ID: "e", Status: "TERMINAL", Stages: []apitype.Stage{
			{RefID: "1", Name: "Wait", Status: "SUCCEEDED"},
			{RefID: "2", Name: "Approve", Status: "TERMINAL", Context: json.RawMessage(`{"error":"judged stop by bob"}`)}}},
			ExitFailed, "execution e ended TERMINAL; stage 2 (Approve) TERMINAL: judged stop by bob"},
		{apitype.Execution{ID: "e", Status: "STOPPED"}, ExitFailed, "execution e ended STOPPED"},
	}
	for _, tt := range tests {
		err := executionExit(&tt.e)
		if tt.wantCode == ExitOK {
			if err != nil {
				t.Errorf("%s: %v", tt.e.Status, err)
			}
			continue
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != tt.wantCode || ee.Error() != tt.wantMsg {
			t.Errorf("%s: exit = %v, want code %d %q", tt.e.Status, err, tt.wantCode, tt.wantMsg)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond:             "850ms",
		12 * time.Second:                   "12s",
		3*time.Minute + 4*time.Second:      "3m04s",
		2*time.Hour + 5*time.Minute:        "2h05m",
		49*time.Hour + 59*time.Minute + 59: "49h59m",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
