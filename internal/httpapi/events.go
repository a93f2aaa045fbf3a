package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/store"
)

// Server-sent event streams.
//
// Each event is written as
//
//	id: <event id>
//	data: <apitype.Event as one line of JSON>
//
// and flushed at once. There is no "event:" line, so a browser's
// EventSource.onmessage sees every event; the event's type is inside the
// data. A comment line (": heartbeat") goes out every HeartbeatInterval so
// that proxies keep an idle stream open. A client resumes after a dropped
// connection by sending the last id it saw as Last-Event-ID (EventSource
// does this by itself), or ?after= on the first connection; the engine
// replays every later event before the live ones. A client that only wants
// what happens from now on asks for ?tail=N: the stream starts N event IDs
// before the newest, which covers events still committing when it opens
// (an event's ID is drawn before its commit) without replaying the log.
// IDs skip numbers between the batches a step writes (at most
// store.EventBatchSpan IDs each), so N IDs hold at most N events.
//
// The engine never waits for a stream: one that falls more than
// engine.Config.SubscriberBuffer events behind is ended with a comment
// saying so (": dropped: …"), and the client reconnects with Last-Event-ID
// as after any dropped connection. One client (streamClientKey) may hold
// at most Config.MaxStreamsPerClient streams at once; one more is refused
// with 429 too_many_requests.

func (s *server) executionEvents(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	exec, err := s.loadExecution(r)
	if err != nil {
		return err
	}
	return s.stream(w, r, exec.ID)
}

func (s *server) allEvents(w http.ResponseWriter, r *http.Request) error {
	if err := s.requireEngine(); err != nil {
		return err
	}
	return s.stream(w, r, "")
}

// maxTail bounds ?tail=, which replays that many event IDs back.
const maxTail = 10000

// afterID reads where a stream starts: after Last-Event-ID (a reconnect),
// else after ?after=, else ?tail= IDs before the newest event, else from
// the first event.
func (s *server) afterID(r *http.Request) (int64, error) {
	src, v := "Last-Event-ID", strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		src, v = "after", r.URL.Query().Get("after")
	}
	if v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			return 0, badRequest("%s %q is not an event id; event ids are whole numbers from 0", src, v)
		}
		return id, nil
	}
	v = r.URL.Query().Get("tail")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > maxTail {
		return 0, badRequest("tail %q is not a count of events; give a whole number from 0 to %d", v, maxTail)
	}
	last, err := s.store.EventLastID(r.Context())
	if err != nil {
		return 0, err
	}
	return max(last-n, 0), nil
}

// stream sends the events of one execution (or all when executionID is "")
// until the client goes away, the server shuts down or the engine drops a
// stream that fell behind.
func (s *server) stream(w http.ResponseWriter, r *http.Request, executionID string) error {
	after, err := s.afterID(r)
	if err != nil {
		return err
	}
	client := s.streamClientKey(r)
	if !s.streams.acquire(client) {
		return &Error{Status: http.StatusTooManyRequests, Code: apitype.CodeTooManyRequests,
			Message: fmt.Sprintf("this client (%s) already has %d event streams open, the most one client may; close one (each console page and each `sluice run --follow` holds one) and try again",
				client, s.streams.max)}
	}
	defer s.streams.release(client)
	rc := http.NewResponseController(w)
	// A stream outlives any write timeout the server sets for ordinary
	// responses.
	_ = rc.SetWriteDeadline(time.Time{})

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell nginx not to buffer
	w.WriteHeader(http.StatusOK)
	// The retry hint is how long EventSource waits before reconnecting.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return fmt.Errorf("flush event stream: %w", err)
	}

	ctx := r.Context()
	visible := s.eventFilter(r, executionID)
	sub := s.engine.Subscribe(ctx, executionID, after)
	last := after // the last event ID sent
	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C:
			closed := !ok
			if ok {
				var err error
				if last, closed, err = writeWaiting(w, sub.C, ev, visible); err != nil {
					return nil // the client went away
				}
			}
			if closed {
				s.streamEnded(w, r, rc, sub, executionID, last)
				return nil
			}
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return nil
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// maxBatch bounds the events written between two flushes.
const maxBatch = 256

// writeWaiting writes ev and the events already waiting behind it, at most
// maxBatch in all, so that a burst costs one flush rather than one each;
// events the principal may not see are passed over. It returns the last ID
// passed and whether events was closed.
func writeWaiting(w http.ResponseWriter, events <-chan *store.Event, ev *store.Event, visible func(*store.Event) bool) (last int64, closed bool, err error) {
	for n := 1; ; n++ {
		if visible(ev) {
			if err := writeEvent(w, ev); err != nil {
				return last, false, err
			}
		}
		last = ev.ID
		if n == maxBatch {
			return last, false, nil
		}
		var ok bool
		select {
		case ev, ok = <-events:
			if !ok {
				return last, true, nil
			}
		default:
			return last, false, nil
		}
	}
}

// streamEnded tells the client why the engine ended its stream, when it is
// not the request ending.
func (s *server) streamEnded(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, sub *engine.Subscription, executionID string, last int64) {
	err := sub.Err()
	if !errors.Is(err, engine.ErrSubscriberTooSlow) {
		return
	}
	s.log.InfoContext(r.Context(), "event stream dropped: the client read too slowly", "request_id", requestID(r.Context()),
		"execution_id", executionID, "last_event_id", last, "remote", r.RemoteAddr)
	// A comment: EventSource ignores it and reconnects with Last-Event-ID
	// when the stream ends, as apiclient does.
	fmt.Fprintf(w, ": dropped: this client read events more slowly than they came; reconnect with Last-Event-ID: %d to resume\n\n", last)
	_ = rc.Flush()
}

func writeEvent(w http.ResponseWriter, ev *store.Event) error {
	data, err := json.Marshal(toEvent(ev))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\ndata: %s\n\n", ev.ID, data)
	return err
}

// DefaultMaxStreamsPerClient is Config.MaxStreamsPerClient's default. A
// console page holds one stream; 32 covers a person with many tabs open,
// not a script opening streams in a loop.
const DefaultMaxStreamsPerClient = 32

// streamClientKey names the client a stream counts against for
// Config.MaxStreamsPerClient: the credential it authenticated with (one
// API token, one console session), so that people behind one proxy do not
// share a bound, and a script with one token cannot open streams without
// end.
func (s *server) streamClientKey(r *http.Request) string {
	if p := auth.FromContext(r.Context()); p != nil {
		return p.Name + " (" + string(p.Via) + " " + p.CredentialID + ")"
	}
	return s.clientIP(r)
}

// eventFilter returns what decides whether a stream shows an event: on the
// stream of all executions, a principal who is not an admin sees the
// events of the applications it may read. (A stream of one execution was
// authorized when it opened.)
func (s *server) eventFilter(r *http.Request, executionID string) func(*store.Event) bool {
	if executionID != "" || s.policy.IsAdmin(s.who(r)) {
		return func(*store.Event) bool { return true }
	}
	readable := map[string]bool{} // execution ID → may read
	return func(ev *store.Event) bool {
		ok, known := readable[ev.ExecutionID]
		if !known {
			exec, err := s.store.ExecutionGet(r.Context(), ev.ExecutionID)
			ok = err == nil && s.canRead(r, exec.Application)
			readable[ev.ExecutionID] = ok
		}
		return ok
	}
}

// streamLimiter counts the open event streams of each client.
type streamLimiter struct {
	max  int // < 0: no bound
	mu   sync.Mutex
	open map[string]int
}

func newStreamLimiter(max int) *streamLimiter {
	return &streamLimiter{max: max, open: map[string]int{}}
}

// acquire counts one more stream for client, unless it has max open.
func (l *streamLimiter) acquire(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max >= 0 && l.open[client] >= l.max {
		return false
	}
	l.open[client]++
	return true
}

// release counts one stream of client fewer.
func (l *streamLimiter) release(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
	}
}
