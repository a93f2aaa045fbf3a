package httpserve_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/httpserve"
)

// serve starts a server for cfg on a loopback port and returns its
// address; it is closed when the test ends.
func serve(t *testing.T, cfg httpserve.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpserve.New(cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// dial opens a raw connection that gives up after a minute, so that a
// server which never closes it fails the test instead of hanging it.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return c
}

// TestDribbledBodyIsCutOff: a client that sends its headers at once and
// then its body a byte at a time loses its connection after the body
// deadline, and the handler's read fails with a timeout.
func TestDribbledBodyIsCutOff(t *testing.T) {
	t.Parallel()
	readErr := make(chan error, 1)
	addr := serve(t, httpserve.Config{
		BodyTimeout: 100 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, err := io.ReadAll(r.Body)
			readErr <- err
		}),
	})
	c := dial(t, addr)
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	dribbled := make(chan struct{})
	go func() {
		defer close(dribbled)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	defer func() { close(stop); <-dribbled }()

	// The server closes the connection: a read ends (EOF or reset), not
	// at the client's one-minute deadline.
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the dribbling connection open for a minute")
	}
	if err := <-readErr; err == nil || !isTimeout(err) {
		t.Errorf("the handler's body read ended with %v, want a timeout", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestSteadyBodyOutlastsTheDeadline: a body that keeps arriving, a
// BodyProgress at a time, may take longer in all than BodyTimeout.
func TestSteadyBodyOutlastsTheDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 400 * time.Millisecond
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	addr := serve(t, httpserve.Config{
		BodyTimeout: timeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			got <- result{n, err}
		}),
	})
	const chunks = 4
	pr, pw := io.Pipe()
	go func() {
		chunk := bytes.Repeat([]byte("x"), httpserve.BodyProgress)
		for range chunks {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			time.Sleep(timeout / 2) // the client's pace, not a wait for the server
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", "http://"+addr+"/", pr)
	req.ContentLength = chunks * httpserve.BodyProgress
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := <-got; r.err != nil || r.n != chunks*httpserve.BodyProgress {
		t.Errorf("the handler read %d bytes, err %v; want all %d", r.n, r.err, chunks*httpserve.BodyProgress)
	}
}

// TestResponseOutlivesTheBodyDeadline: once the body has been read, the
// response (an event stream, a long Invoke) may run well past the body
// deadline without its context being cancelled — for a request with a
// body and for one without.
func TestResponseOutlivesTheBodyDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	addr := serve(t, httpserve.Config{
		BodyTimeout: timeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d\n\n", i)
				_ = http.NewResponseController(w).Flush()
				select {
				case <-r.Context().Done():
					return // cut: the client sees fewer events
				case <-time.After(2 * timeout):
				}
			}
			fmt.Fprint(w, "data: end\n\n")
		}),
	})
	for _, body := range []string{"", `{"follow":true}`} {
		t.Run(fmt.Sprintf("body %q", body), func(t *testing.T) {
			var rd io.Reader
			if body != "" {
				rd = strings.NewReader(body)
			}
			resp, err := http.Post("http://"+addr+"/", "application/json", rd)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var events []string
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					events = append(events, d)
				}
			}
			if want := "0 1 2 end"; strings.Join(events, " ") != want {
				t.Errorf("events %q, want %q: the stream was cut (err %v)", events, want, sc.Err())
			}
		})
	}
}

// TestKeepAliveAfterABody: the deadline of one request's body does not
// reach the next request on the same connection, even when the first
// handler did not read its body.
func TestKeepAliveAfterABody(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	addr := serve(t, httpserve.Config{
		BodyTimeout: timeout,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/read" {
				_, _ = io.ReadAll(r.Body)
			}
			if r.URL.Path == "/slow" {
				select {
				case <-r.Context().Done():
					http.Error(w, "cancelled", 500)
					return
				case <-time.After(4 * timeout):
				}
			}
			fmt.Fprint(w, "ok")
		}),
	})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for _, path := range []string{"/read", "/ignore", "/slow"} {
		body := ""
		if path != "/slow" {
			body = "hello"
		}
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "ok" {
			t.Errorf("%s: %d %q, want 200 ok", path, resp.StatusCode, b)
		}
		time.Sleep(2 * timeout) // idle between requests, past the last body's deadline
	}
}

// TestHeaderLimits: headers that take too long, or are too large, are
// refused.
func TestHeaderLimits(t *testing.T) {
	t.Parallel()
	addr := serve(t, httpserve.Config{
		ReadHeaderTimeout: 100 * time.Millisecond,
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
	})

	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	if _, err := io.Copy(io.Discard, c); isTimeout(err) {
		t.Errorf("the server kept a connection with unfinished headers open for a minute")
	}

	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", httpserve.DefaultMaxHeaderBytes+4096))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("%d KiB of headers: status %d, want 431", (httpserve.DefaultMaxHeaderBytes+4096)>>10, resp.StatusCode)
	}
}
