package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// wrappedRows counts the rows text takes on a terminal width columns wide
// the simple way: strip escape codes, then lay each line out rune by rune.
// It is independent of terminalRows, which it checks.
func wrappedRows(text string, width int) int {
	plain := regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]").ReplaceAllString(text, "")
	rows := 0
	for _, line := range strings.Split(strings.TrimSuffix(plain, "\n"), "\n") {
		col := 0
		rows++
		for range line {
			if col == width {
				rows++
				col = 0
			}
			col++
		}
	}
	return rows
}

func TestBoardRedrawsOverWrappedLines(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &apitype.Execution{
		ID: "6f1c2a3e-8d4b-4c5a-9e7f-0a1b2c3d4e5f", Application: "payments-service", PipelineName: "deploy-to-production-with-canary",
		Status: "RUNNING", StartTime: ms(t0),
		Stages: []apitype.Stage{
			{RefID: "deploy", Name: "Deploy the payments function to every region", Type: "Aws.LambdaDeploymentStage",
				Status: "SUCCEEDED", StartTime: ms(t0), EndTime: ms(t0.Add(3 * time.Second))},
			{RefID: "approve", Name: "Approve", Type: "manualJudgment", Status: "RUNNING", StartTime: ms(t0.Add(3 * time.Second)),
				Context: json.RawMessage(`{"judgmentInputs":[{"value":"promote"},{"value":"roll back"}]}`)},
		},
	}
	for _, color := range []bool{false, true} {
		t.Run(fmt.Sprint("color=", color), func(t *testing.T) {
			t.Parallel()
			const width = 80
			text := renderBoard(e, t0.Add(5*time.Second), color)
			lines := strings.Count(text, "\n")
			rows := wrappedRows(text, width)
			if rows <= lines {
				t.Fatalf("the board's %d lines take %d rows at %d columns; the test needs one that wraps:\n%s", lines, rows, width, text)
			}
			var buf bytes.Buffer
			b := &board{w: &buf, color: color, width: func() int { return width }}
			b.draw(e, t0.Add(5*time.Second))
			if regexp.MustCompile(`\x1b\[\d+A`).MatchString(buf.String()) {
				t.Fatalf("the first drawing moves the cursor up: %q", buf.String())
			}
			buf.Reset()
			b.draw(e, t0.Add(6*time.Second))
			up := regexp.MustCompile(`^\x1b\[(\d+)A`).FindStringSubmatch(buf.String())
			if up == nil {
				t.Fatalf("the second drawing does not start by moving up: %q", buf.String())
			}
			if got := up[1]; got != fmt.Sprint(rows) {
				t.Errorf("the second drawing moves up %s rows, want the %d rows the first took at %d columns", got, rows, width)
			}
		})
	}
}

func TestTerminalRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text  string
		width int
		want  int
	}{
		{"abc\n", 80, 1},
		{strings.Repeat("x", 80) + "\n", 80, 1}, // exactly as wide: no wrap
		{strings.Repeat("x", 81) + "\n", 80, 2},
		{strings.Repeat("x", 161) + "\n", 80, 3},
		{"\n\n", 80, 2},
		{strings.Repeat("x", 200) + "\n", 0, 1}, // width unknown: lines
		{ansiBlue + strings.Repeat("x", 80) + ansiReset + "\n", 80, 1},
		{strings.Repeat("✓", 80) + "\n", 80, 1},
		{strings.Repeat("界", 41) + "\n", 80, 2}, // wide characters take two columns
	}
	for _, tt := range tests {
		if got := terminalRows(tt.text, tt.width); got != tt.want {
			t.Errorf("terminalRows(%q, %d) = %d, want %d", tt.text, tt.width, got, tt.want)
		}
	}
}

func TestJudgeHint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		stage apitype.Stage
		want  string
	}{
		{"no inputs", apitype.Stage{RefID: "approve"},
			"waiting for a judgment: sluice judge e1 approve continue|stop"},
		{"inputs quoted", apitype.Stage{RefID: "approve", Context: json.RawMessage(`{"judgmentInputs":[{"value":"promote"},{"value":"roll back"},{"value":"it's fine"}]}`)},
			"waiting for a judgment: sluice judge e1 approve continue|stop --input INPUT\ninputs: 'promote', 'roll back', 'it'\\''s fine'"},
		{"refId with a space", apitype.Stage{RefID: "my stage"},
			"waiting for a judgment: sluice judge e1 'my stage' continue|stop"},
		{"inputs still an expression", apitype.Stage{RefID: "2", Context: json.RawMessage(`{"judgmentInputs":"${trigger.parameters.inputs}"}`)},
			"waiting for a judgment: sluice judge e1 2 continue|stop"},
	}
	for _, tt := range tests {
		if got := judgeHint("e1", tt.stage); got != tt.want {
			t.Errorf("%s: judgeHint =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}

	// On the board, each line of the hint is a note line under the stage.
	e := &apitype.Execution{ID: "e1", Application: "demo", PipelineName: "p", Status: "RUNNING",
		Stages: []apitype.Stage{{RefID: "approve", Name: "Approve", Type: "manualJudgment", Status: "RUNNING", Context: tests[1].stage.Context}}}
	got := renderBoard(e, time.Now(), false)
	if !strings.Contains(got, "\n    inputs: 'promote', 'roll back', 'it'\\''s fine'\n") {
		t.Errorf("renderBoard =\n%s\nwant a note line listing the inputs", got)
	}
}

// TestBoardShowsProgress: a running or succeeded stage shows how far it
// came — a shift's step, a deploy that published nothing — under its line;
// a stage without progress shows nothing.
func TestBoardShowsProgress(t *testing.T) {
	t.Parallel()
	e := &apitype.Execution{ID: "e1", Application: "demo", PipelineName: "p", Status: "RUNNING", Stages: []apitype.Stage{
		{RefID: "deploy", Name: "Deploy", Type: "Aws.LambdaDeploymentStage", Status: "SUCCEEDED",
			Context: json.RawMessage(`{"progress":"published no new version: the code and configuration are those of version 2"}`)},
		{RefID: "shift", Name: "Shift", Type: "Aws.LambdaTrafficRoutingStage", Status: "RUNNING", RequisiteStageRefIDs: []string{"deploy"},
			Context: json.RawMessage(`{"progress":"step 2 of 3: 50% of alias live to version 3"}`)},
		{RefID: "wait", Name: "Wait", Type: "wait", Status: "SUCCEEDED", RequisiteStageRefIDs: []string{"shift"}},
	}}
	got := renderBoard(e, time.Now(), false)
	for _, want := range []string{"\n    published no new version: the code and configuration are those of version 2\n", "\n    step 2 of 3: 50% of alias live to version 3\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("renderBoard =\n%s\nwant the note %q", got, want)
		}
	}
	if n := strings.Count(got, "\n    "); n != 2 {
		t.Errorf("renderBoard =\n%s\nwant exactly 2 note lines, got %d", got, n)
	}
}
