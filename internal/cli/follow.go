package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/status"
)

// follow shows an execution's progress until it completes: a status board
// redrawn in place when stdout is a terminal, one line per event otherwise.
// It returns the error to exit with (nil when the execution succeeded).
func (a *app) follow(ctx context.Context, c *apiclient.Client, id string) error {
	var (
		final *apitype.Execution
		err   error
	)
	if a.isTerminal(a.stdout) {
		final, err = a.followBoard(ctx, c, id)
	} else {
		final, err = a.followLines(ctx, c, id)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return stoppedFollowing(id)
		}
		return err
	}
	return executionExit(final)
}

// stoppedFollowing is the error of a follow interrupted by Ctrl-C: the
// execution runs on the server and does not stop with the CLI, so say so
// and how to follow it again or cancel it.
func stoppedFollowing(id string) error {
	return &exitError{
		code: ExitInterrupted,
		err:  fmt.Errorf("stopped following; execution %s keeps running on the server", id),
		hint: fmt.Sprintf("follow it again with 'sluice execution get %s --follow', or stop it with 'sluice execution cancel %s'", id, id),
	}
}

// isTerminal reports whether w is a terminal that understands ANSI codes.
func (a *app) isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || a.getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// terminalWidth returns a function that reads w's width in columns now,
// else $COLUMNS, else 0 (unknown). It is read
// at every drawing, so a board follows a resized terminal.
func (a *app) terminalWidth(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if width, _, err := term.GetSize(int(f.Fd())); err == nil && width > 0 {
				return width
			}
		}
		n, _ := strconv.Atoi(a.getenv("COLUMNS"))
		return n
	}
}

// followLines prints one line per event until the execution completes.
func (a *app) followLines(ctx context.Context, c *apiclient.Client, id string) (*apitype.Execution, error) {
	first, err := c.GetExecution(ctx, id)
	if err != nil {
		return nil, err
	}
	stages := map[string]apitype.Stage{}
	for _, s := range first.Stages {
		stages[s.ID] = s
	}
	fmt.Fprintf(a.stdout, "execution %s of %s/%s\n", first.ID, first.Application, first.PipelineName)
	var final *apitype.Execution
	err = c.FollowExecution(ctx, id, func(ev apitype.Event) error {
		fmt.Fprintln(a.stdout, formatEvent(ev, stages))
		// Stop at the event that completed the execution: a final
		// execution.status no older than the execution's end (an earlier
		// one was followed by a restart).
		var data apitype.ExecutionStatusData
		if ev.Type != apitype.EventExecutionStatus || json.Unmarshal(ev.Data, &data) != nil || !data.Status.Complete() {
			return nil
		}
		e, err := c.GetExecution(ctx, id)
		if err != nil {
			return err
		}
		if e.Status.Complete() && (e.EndTime == nil || ev.Time >= *e.EndTime) {
			final = e
			return apiclient.ErrStopFollowing
		}
		return nil
	}, apiclient.OnReconnect(func(err error) {
		fmt.Fprintf(a.stderr, "sluice: the event stream broke (%v); reconnecting\n", err)
	}))
	if err != nil {
		return nil, err
	}
	if final == nil {
		return nil, errors.New("the event stream ended before the execution completed")
	}
	return final, nil
}

// followBoard redraws the board on every event and every second (for the
// elapsed times) until the execution completes.
func (a *app) followBoard(ctx context.Context, c *apiclient.Client, id string) (*apitype.Execution, error) {
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	changed := make(chan struct{}, 1)
	streamErr := make(chan error, 1)
	go func() {
		streamErr <- c.FollowExecution(streamCtx, id, func(apitype.Event) error {
			select {
			case changed <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	b := &board{w: a.stdout, color: a.getenv("NO_COLOR") == "", width: a.terminalWidth(a.stdout)}
	for {
		e, err := c.GetExecution(ctx, id)
		if err != nil {
			return nil, err
		}
		b.draw(e, time.Now())
		if e.Status.Complete() {
			return e, nil
		}
		select {
		case <-changed:
		case <-tick.C:
		case err := <-streamErr:
			if err == nil {
				err = errors.New("the event stream ended before the execution completed")
			}
			return nil, err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// executionExit is the error to exit with for a completed execution.
func executionExit(e *apitype.Execution) error {
	switch e.Status {
	case status.Succeeded:
		return nil
	case status.Canceled:
		var st struct {
			CanceledBy         string `json:"canceledBy"`
			CancellationReason string `json:"cancellationReason"`
		}
		_ = json.Unmarshal(e.State, &st)
		msg := "execution " + e.ID + " was canceled"
		if st.CanceledBy != "" {
			msg += " by " + st.CanceledBy
		}
		if st.CancellationReason != "" {
			msg += ": " + st.CancellationReason
		}
		return &exitError{code: ExitCanceled, err: errors.New(msg)}
	}
	msg := fmt.Sprintf("execution %s ended %s", e.ID, e.Status)
	var failed []string
	for _, s := range e.Stages {
		if s.Status.Failed() {
			f := fmt.Sprintf("stage %s (%s) %s", s.RefID, s.Name, s.Status)
			if note := stageNote(e, s); note != "" {
				f += ": " + note
			}
			failed = append(failed, f)
		}
	}
	if len(failed) > 0 {
		msg += "; " + strings.Join(failed, "; ")
	}
	return &exitError{code: ExitFailed, err: errors.New(msg)}
}

// formatEvent is one line for an event: time, what changed, its status
// and the rest of its data as key=value. stages names the stages by id.
// The data is read as a map, not as its apitype payload, so that a key
// the server adds later is shown too.
func formatEvent(ev apitype.Event, stages map[string]apitype.Stage) string {
	var data map[string]any
	_ = json.Unmarshal(ev.Data, &data)
	var b strings.Builder
	b.WriteString(time.UnixMilli(ev.Time).Local().Format("15:04:05"))
	b.WriteByte(' ')
	switch typ := string(ev.Type); {
	case strings.HasPrefix(typ, "stage.") || ev.Type == apitype.EventTaskStatus:
		st, ok := stages[ev.StageID]
		if !ok {
			st = apitype.Stage{RefID: ev.StageID}
		}
		if ref, ok := data["refId"].(string); ok {
			st.RefID = ref
		}
		if name, ok := data["name"].(string); ok {
			st.Name = name
		}
		delete(data, "refId")
		delete(data, "name")
		fmt.Fprintf(&b, "stage %s", st.RefID)
		if st.Name != "" {
			fmt.Fprintf(&b, " (%s)", st.Name)
		}
		if ev.Type == apitype.EventTaskStatus {
			fmt.Fprintf(&b, " task %v", data["task"])
			delete(data, "task")
		} else {
			fmt.Fprintf(&b, " %s", strings.TrimPrefix(typ, "stage."))
		}
	case strings.HasPrefix(typ, "execution."):
		fmt.Fprintf(&b, "execution %s", strings.TrimPrefix(typ, "execution."))
	default:
		b.WriteString(typ)
	}
	if st, ok := data["status"]; ok {
		fmt.Fprintf(&b, " %v", st)
		delete(data, "status")
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		v := data[k]
		if s, ok := v.(string); ok {
			if s == "" {
				continue
			}
			if strings.ContainsAny(s, " \t\n\"") {
				v = fmt.Sprintf("%q", s)
			}
		}
		fmt.Fprintf(&b, " %s=%v", k, v)
	}
	return b.String()
}
