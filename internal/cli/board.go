package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// ANSI sequences of the status board. Plain escape codes, no TUI library:
// every terminal Sluice runs in understands these.
const (
	ansiUp        = "\x1b[%dA" // cursor up n lines
	ansiClearDown = "\x1b[J"   // clear from the cursor to the end of the screen
	ansiReset     = "\x1b[0m"
	ansiBold      = "\x1b[1m"
	ansiDim       = "\x1b[2m"
	ansiRed       = "\x1b[31m"
	ansiGreen     = "\x1b[32m"
	ansiYellow    = "\x1b[33m"
	ansiBlue      = "\x1b[34m"
)

// board redraws an execution's stage table in place on a terminal.
type board struct {
	w     io.Writer
	color bool
	lines int // lines drawn last time, to move back over
}

// draw replaces the previous drawing with the execution's state at now.
func (b *board) draw(e *apitype.Execution, now time.Time) {
	text := renderBoard(e, now, b.color)
	var out strings.Builder
	if b.lines > 0 {
		fmt.Fprintf(&out, ansiUp, b.lines)
	}
	out.WriteString("\r" + ansiClearDown)
	out.WriteString(text)
	b.lines = strings.Count(text, "\n")
	_, _ = io.WriteString(b.w, out.String())
}

// renderBoard is the board's text: a header line, then one line per stage
// (status mark, refId, name, type, status, elapsed) and, for a stage that
// waits for a person or failed, a line saying so.
func renderBoard(e *apitype.Execution, now time.Time, color bool) string {
	paint := func(code, s string) string {
		if !color || code == "" {
			return s
		}
		return code + s + ansiReset
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s  %s  %s\n",
		paint(ansiBold, e.Application+"/"+e.PipelineName), paint(ansiDim, e.ID),
		paint(statusColor(e.Status), string(e.Status)), formatDuration(span(e.StartTime, e.EndTime, now)))

	nameW, typeW, refW := 4, 4, 1
	for _, s := range e.Stages {
		nameW = max(nameW, len(s.Name))
		typeW = max(typeW, len(s.Type))
		refW = max(refW, len(s.RefID))
	}
	for _, s := range orderStages(e.Stages) {
		elapsed := ""
		if s.StartTime != nil {
			elapsed = formatDuration(span(s.StartTime, s.EndTime, now))
		}
		line := fmt.Sprintf("  %s %-*s  %-*s  %-*s  %s  %s",
			paint(statusColor(s.Status), statusMark(s.Status)),
			refW, s.RefID, nameW, s.Name, typeW, s.Type,
			paint(statusColor(s.Status), fmt.Sprintf("%-15s", s.Status)), elapsed)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
		if note := stageNote(e, s); note != "" {
			fmt.Fprintf(&b, "    %s\n", paint(ansiDim, note))
		}
	}
	return b.String()
}

// orderStages returns the stages in run order: by start time, unstarted
// ones after, each group in document order.
func orderStages(stages []apitype.Stage) []apitype.Stage {
	out := append([]apitype.Stage(nil), stages...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].StartTime, out[j].StartTime
		if a == nil || b == nil {
			return a != nil && b == nil
		}
		return *a < *b
	})
	return out
}

// stageNote says what a stage waits for, or why it failed or was skipped.
func stageNote(e *apitype.Execution, s apitype.Stage) string {
	switch s.Status {
	case status.Running:
		if s.Type == "manualJudgment" && e.Status == status.Running {
			return fmt.Sprintf("waiting for a judgment: sluice judge %s %s continue|stop", e.ID, s.RefID)
		}
	case status.Terminal, status.Stopped, status.FailedContinue, status.Skipped:
		var ctx struct {
			Error      string `json:"error"`
			SkipReason string `json:"skipReason"` // the engine's, for a SKIPPED stage
			Reason     string `json:"reason"`
		}
		_ = json.Unmarshal(s.Context, &ctx)
		return firstLine(cmp.Or(ctx.Error, ctx.SkipReason, ctx.Reason))
	}
	return ""
}

func statusMark(s status.Status) string {
	switch s {
	case status.Succeeded:
		return "✓"
	case status.Running:
		return "●"
	case status.Paused:
		return "‖"
	case status.Terminal, status.Stopped:
		return "✗"
	case status.FailedContinue:
		return "!"
	case status.Canceled:
		return "⊘"
	case status.Skipped:
		return "↷"
	}
	return "·"
}

func statusColor(s status.Status) string {
	switch s {
	case status.Succeeded:
		return ansiGreen
	case status.Running:
		return ansiBlue
	case status.Paused, status.FailedContinue, status.Canceled:
		return ansiYellow
	case status.Terminal, status.Stopped:
		return ansiRed
	case status.Skipped, status.NotStarted:
		return ansiDim
	}
	return ""
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
