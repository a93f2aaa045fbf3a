package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	// width is the terminal's width in columns at the time of a drawing;
	// nil or a result <= 0 means unknown, and lines are taken not to wrap.
	width func() int
	rows  int // terminal rows drawn last time, to move back over
}

// draw replaces the previous drawing with the execution's state at now.
//
// A line wider than the terminal wraps onto more than one row, and the
// cursor must move back over every row, or each redraw leaves a copy of
// the top of the board behind. So the board counts rows, not lines, at
// the width the terminal has now.
func (b *board) draw(e *apitype.Execution, now time.Time) {
	text := renderBoard(e, now, b.color)
	var out strings.Builder
	if b.rows > 0 {
		fmt.Fprintf(&out, ansiUp, b.rows)
	}
	out.WriteString("\r" + ansiClearDown)
	out.WriteString(text)
	width := 0
	if b.width != nil {
		width = b.width()
	}
	b.rows = terminalRows(text, width)
	_, _ = io.WriteString(b.w, out.String())
}

// terminalRows is how many rows text takes on a terminal width columns
// wide, counting a line wider than that as the rows it wraps onto. text
// ends with a newline; width <= 0 counts lines.
func terminalRows(text string, width int) int {
	rows := 0
	for line := range strings.Lines(text) {
		w := displayWidth(strings.TrimSuffix(line, "\n"))
		if width <= 0 || w <= width {
			rows++ // a line exactly as wide as the terminal takes one row
			continue
		}
		rows += (w + width - 1) / width
	}
	return rows
}

// displayWidth is the number of terminal columns s takes: ANSI escape
// sequences take none, East Asian wide characters two, other characters
// one.
func displayWidth(s string) int {
	w := 0
	for i := 0; i < len(s); {
		if s[i] == '\x1b' && i+1 < len(s) && s[i+1] == '[' {
			// CSI: parameters, then one final byte in 0x40–0x7e.
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j + 1
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		w += runeWidth(r)
	}
	return w
}

// runeWidth is 2 for the East Asian wide and full-width ranges (and
// emoji), 0 for combining marks and control characters, 1 otherwise.
func runeWidth(r rune) int {
	switch {
	case r < 0x20 || r == 0x7f || unicode.Is(unicode.Mn, r):
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf && r != 0x303f,
		r >= 0xac00 && r <= 0xd7a3, r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f,
		r >= 0xff00 && r <= 0xff60, r >= 0xffe0 && r <= 0xffe6,
		r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff, r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
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
			for line := range strings.Lines(note) {
				fmt.Fprintf(&b, "    %s\n", paint(ansiDim, strings.TrimSuffix(line, "\n")))
			}
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

// stageNote says what a stage waits for or how far it came, or why it
// failed or was skipped: one line, or for a judgment with inputs two, the
// second listing the inputs.
func stageNote(e *apitype.Execution, s apitype.Stage) string {
	switch s.Status {
	case status.Running, status.Succeeded:
		if s.Status == status.Running && s.Type == "manualJudgment" && e.Status == status.Running {
			return judgeHint(e.ID, s)
		}
		// How far it came, as the stage tells it (stage.ProgressKey): a
		// traffic shift's step, a deploy that published nothing.
		var ctx struct {
			Progress string `json:"progress"`
		}
		_ = json.Unmarshal(s.Context, &ctx)
		return firstLine(ctx.Progress)
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

// judgeHint is the command that judges stage s of execution id and, when
// the stage defines judgmentInputs, the inputs to choose from, each quoted
// for a shell so that the command can be copied as it is.
func judgeHint(id string, s apitype.Stage) string {
	hint := fmt.Sprintf("waiting for a judgment: sluice judge %s %s continue|stop", id, shellWord(s.RefID))
	var ctx struct {
		JudgmentInputs []struct {
			Value string `json:"value"`
		} `json:"judgmentInputs"`
	}
	// An input list that is still an expression is not shown.
	_ = json.Unmarshal(s.Context, &ctx)
	var inputs []string
	for _, in := range ctx.JudgmentInputs {
		if in.Value != "" {
			inputs = append(inputs, shellQuote(in.Value))
		}
	}
	if len(inputs) == 0 {
		return hint
	}
	return hint + " --input INPUT\ninputs: " + strings.Join(inputs, ", ")
}

// shellQuote quotes s in single quotes for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellWord is s as one shell word: bare when it holds only characters no
// shell treats specially, else quoted.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+=,") == "" {
		return s
	}
	return shellQuote(s)
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
