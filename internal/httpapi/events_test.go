package httpapi_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
	"github.com/sluice-cd/sluice/internal/store"
)

// openStream opens the all-executions event stream, returning the response
// (a 200 stream or an error), closed when the test ends.
func openStream(t *testing.T, ctx context.Context, url, token string, header http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestEventStreamsPerClient opens as many event streams as one client (one
// credential) may, then one more: it is refused with 429 too_many_requests,
// until one of the open streams ends.
func TestEventStreamsPerClient(t *testing.T) {
	t.Parallel()
	_, b := setupEngine(t, func(cfg *httpapi.Config) { cfg.MaxStreamsPerClient = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first, firstCancel := context.WithCancel(ctx)
	for _, c := range []context.Context{first, ctx} {
		if resp := openStream(t, c, b.server.URL, b.token, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("stream within the bound: %d, want 200", resp.StatusCode)
		}
	}
	resp := openStream(t, ctx, b.server.URL, b.token, nil)
	body := readErrorBody(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || body.Error.Code != apitype.CodeTooManyRequests ||
		!strings.Contains(body.Error.Message, "already has 2 event streams open") {
		t.Fatalf("stream beyond the bound: %d %+v, want 429 too_many_requests saying how many are open", resp.StatusCode, body.Error)
	}
	// The bound is per credential: another token, from the same address,
	// has its own.
	other, _, err := b.auth.CreateToken(ctx, auth.TokenParams{Name: "other", Roles: []string{auth.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	if resp := openStream(t, ctx, b.server.URL, other, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("another credential's stream while the first is at its bound: %d, want 200", resp.StatusCode)
	}

	firstCancel()
	sluicetest.WaitFor(t, "a stream to be accepted once one ended", 0, func() bool {
		resp := openStream(t, ctx, b.server.URL, b.token, nil)
		if resp.StatusCode == http.StatusOK {
			return true
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("stream after one ended: %d, want 200 (or 429 until the server notices)", resp.StatusCode)
		}
		resp.Body.Close()
		return false
	})
}

// TestEventStreamDroppedWhenBehind has a client open the stream of all
// executions over a backlog larger than the connection buffers and not
// read it, while new events commit: the engine drops the stream rather
// than wait, the server ends it with a comment that says so and where to
// resume, and resuming there with Last-Event-ID delivers the rest, each
// once.
func TestEventStreamDroppedWhenBehind(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	e := sluicetest.StartEngine(t, engine.Config{Store: st, Stages: stage.NewRegistry(), SubscriberBuffer: 1,
		EventPollInterval: 10 * time.Millisecond})
	a, token := sluicetest.Auth(t, st, "follower", auth.RoleAdmin)
	srv := httptest.NewServer(httpapi.New(httpapi.Config{Store: st, Engine: e, Auth: a}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	for _, id := range []string{"e-1", "e-2"} {
		if err := st.ExecutionInsert(ctx, &store.Execution{ID: id, Application: "app", PipelineName: "p",
			PipelineConfigID: "cfg", Status: status.Running, User: "tester"}); err != nil {
			t.Fatal(err)
		}
	}
	// probe shows when the engine's reader has handed events over: it
	// follows e-2, where each batch of events of e-1 ends with a marker.
	probe := e.Subscribe(ctx, "e-2", 0)
	insert := func(n, size int) (marker int64) {
		data := []byte(`{"pad":"` + strings.Repeat("x", size) + `"}`)
		for range n {
			if err := st.EventInsert(ctx, &store.Event{ExecutionID: "e-1", Type: "tick", Data: data}); err != nil {
				t.Fatal(err)
			}
		}
		ev := &store.Event{ExecutionID: "e-2", Type: "tick"}
		if err := st.EventInsert(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if got, ok := <-probe.C; !ok || got.ID != ev.ID {
			t.Fatalf("probe: got %v (%v), want the marker %d", got, probe.Err(), ev.ID)
		}
		return ev.ID
	}
	// 6 MB: far more than a loopback connection buffers while nobody reads
	// (a few hundred KB; the stream gets through two or three of these).
	insert(60, 100<<10)

	resp := openStream(t, ctx, srv.URL, token, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("open stream: %d", resp.StatusCode)
	}
	// The server is now stuck writing the backlog, the engine's catch-up
	// for it stuck behind; new events queue for it and overflow.
	last := insert(3, 10)

	ids, comments := readSSE(t, resp.Body)
	dropped := ""
	for _, c := range comments {
		if strings.HasPrefix(c, ": dropped:") {
			dropped = c
		}
	}
	if dropped == "" {
		t.Fatalf("stream delivered %d events and comments %q; want a comment saying it was dropped", len(ids), comments)
	}
	// Usually a few events got through first; under load the stream may
	// be dropped before its catch-up sent any, and resumes from the start.
	var resumeAt int64
	if len(ids) > 0 {
		resumeAt = ids[len(ids)-1]
	}
	if want := fmt.Sprintf("Last-Event-ID: %d", resumeAt); !strings.Contains(dropped, want) {
		t.Errorf("drop comment %q does not say %q", dropped, want)
	}

	resumed := openStream(t, ctx, srv.URL, token, http.Header{"Last-Event-Id": {strconv.FormatInt(resumeAt, 10)}})
	var got []int64
	sc := bufio.NewScanner(resumed.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			n, _ := strconv.ParseInt(id, 10, 64)
			got = append(got, n)
			if n == last {
				break
			}
		}
	}
	all, err := st.EventList(ctx, &store.EventListParams{AfterID: resumeAt})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, ev := range all {
		want = append(want, ev.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("resumed after %d: got %d events %v…, want %d (through %d)", resumeAt, len(got), got[:min(len(got), 5)], len(want), last)
	}
}

// readSSE reads an event stream to its end and returns the ids and the
// comment lines in it.
func readSSE(t *testing.T, r io.Reader) (ids []int64, comments []string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil {
				t.Fatalf("id line %q: %v", line, err)
			}
			ids = append(ids, n)
		} else if strings.HasPrefix(line, ":") {
			comments = append(comments, line)
		}
	}
	return ids, comments
}
