package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// ErrStopFollowing, returned by a follow callback, ends the stream; the follow
// method then returns nil.
var ErrStopFollowing = errors.New("stop following")

// FollowOption configures FollowExecution and FollowEvents.
type FollowOption func(*follower)

// AfterEvent starts the stream after the event with this id; by default
// every event is replayed from the start.
func AfterEvent(id int64) FollowOption { return func(f *follower) { f.lastID = id } }

// MaxReconnects bounds how many times in a row the stream is reconnected
// without getting through to the server (default 8, about 25 seconds of
// backoff). A connection that gets through resets the count.
func MaxReconnects(n int) FollowOption { return func(f *follower) { f.maxFailures = n } }

// OnReconnect is called before each reconnection with the error that ended
// the previous connection.
func OnReconnect(fn func(err error)) FollowOption { return func(f *follower) { f.onReconnect = fn } }

// FollowExecution streams the events of one execution to fn, oldest first,
// until fn returns an error (ErrStopFollowing ends it cleanly) or ctx ends.
// A dropped connection is re-established with Last-Event-ID, so fn sees
// each event once and in order across reconnects.
func (c *Client) FollowExecution(ctx context.Context, id string, fn func(apitype.Event) error, opts ...FollowOption) error {
	return c.follow(ctx, c.endpoint(nil, "executions", id, "events"), fn, opts)
}

// FollowEvents streams the events of every execution, as FollowExecution.
func (c *Client) FollowEvents(ctx context.Context, fn func(apitype.Event) error, opts ...FollowOption) error {
	return c.follow(ctx, c.endpoint(nil, "events"), fn, opts)
}

type follower struct {
	lastID      int64
	maxFailures int
	onReconnect func(error)
}

const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 5 * time.Second
	// maxEventBytes bounds one line of the stream.
	maxEventBytes = 8 << 20
)

func (c *Client) follow(ctx context.Context, u string, fn func(apitype.Event) error, opts []FollowOption) error {
	f := &follower{maxFailures: 8}
	for _, o := range opts {
		o(f)
	}
	failures := 0
	backoff := minBackoff
	for {
		connected, err := c.followOnce(ctx, u, f, fn)
		var cbErr *callbackError
		switch {
		case errors.Is(err, ErrStopFollowing):
			return nil
		case errors.As(err, &cbErr):
			return cbErr.err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		var apiErr *Error
		if errors.As(err, &apiErr) && (apiErr.Status < 500 || apiErr.Status == http.StatusServiceUnavailable) {
			return err // 404, 400, no engine: trying again will not help
		}
		if connected {
			failures, backoff = 0, minBackoff
		} else {
			failures++
			if failures > f.maxFailures {
				return fmt.Errorf("follow events: gave up after %d attempts to reconnect: %w", f.maxFailures, err)
			}
		}
		if f.onReconnect != nil {
			f.onReconnect(err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// callbackError carries an error returned by the callback, so that it is
// returned as it is rather than retried.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// followOnce reads one connection's stream until it ends. connected reports
// whether the server accepted the stream.
func (c *Client) followOnce(ctx context.Context, u string, f *follower, fn func(apitype.Event) error) (connected bool, err error) {
	h := http.Header{}
	h.Set("Accept", "text/event-stream")
	if f.lastID > 0 {
		h.Set("Last-Event-ID", strconv.FormatInt(f.lastID, 10))
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, url: u, header: h})
	if err != nil {
		return false, fmt.Errorf("follow events: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, readError(resp)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return false, &Error{Status: resp.StatusCode, Message: fmt.Sprintf("the server answered %s instead of an event stream", ct)}
	}
	err = readStream(resp.Body, func(id int64, data string) error {
		var ev apitype.Event
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return fmt.Errorf("decode event %d: %w", id, err)
		}
		if ev.ID == 0 {
			ev.ID = id
		}
		if ev.ID <= f.lastID {
			return nil // already delivered before a reconnect
		}
		f.lastID = ev.ID
		if err := fn(ev); err != nil {
			if errors.Is(err, ErrStopFollowing) {
				return err
			}
			return &callbackError{err}
		}
		return nil
	})
	if err == nil {
		err = io.ErrUnexpectedEOF // the server closed the stream
	}
	return true, err
}

// readStream parses a text/event-stream and calls dispatch for each event
// with data. It returns dispatch's error, or the read error (nil at EOF).
func readStream(r io.Reader, dispatch func(id int64, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var (
		id      int64
		data    strings.Builder
		hasData bool
	)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData {
				if err := dispatch(id, data.String()); err != nil {
					return err
				}
			}
			data.Reset()
			hasData = false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // comment: heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			if n, err := strconv.ParseInt(value, 10, 64); err == nil {
				id = n
			}
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		}
	}
	return sc.Err()
}
