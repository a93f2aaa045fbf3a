package invoke

import (
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// bareEnvironment is an environment's Runtime API without a process: the
// test plays the runtime over HTTP.
func bareEnvironment(t *testing.T) (*environment, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &environment{
		iv:    &Invoker{},
		ln:    ln,
		conns: make(map[*runtimeConn]struct{}),
		done:  make(chan struct{}, 1),
	}
	go e.acceptLoop(ln)
	t.Cleanup(func() {
		ln.Close()
		e.closeConns()
	})
	return e, "http://" + ln.Addr().String() + "/2018-06-01/runtime/"
}

func awaitDone(t *testing.T, e *environment) {
	t.Helper()
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the invocation did not complete")
	}
}

func TestRuntimeAPIProtocol(t *testing.T) {
	t.Parallel()
	e, base := bareEnvironment(t)
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}

	inv := &invocation{id: "req-1", payload: []byte(`{"a":1}`), arn: "arn:aws:lambda:us-east-1:1:function:f:live",
		traceID: "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0", clientContext: `{"c":1}`, timeout: 3 * time.Second}
	e.dispatch(inv) // before the runtime asks: it waits for GET /next

	start := time.Now()
	resp, err := client.Get(base + "invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `{"a":1}` {
		t.Fatalf("GET next: %d %s", resp.StatusCode, body)
	}
	for h, want := range map[string]string{
		"Lambda-Runtime-Aws-Request-Id":       "req-1",
		"Lambda-Runtime-Invoked-Function-Arn": inv.arn,
		"Lambda-Runtime-Trace-Id":             inv.traceID,
		"Lambda-Runtime-Client-Context":       `{"c":1}`,
		"Content-Type":                        "application/json",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	deadline, _ := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if d := time.UnixMilli(deadline).Sub(start); d < 2*time.Second || d > 4*time.Second {
		t.Errorf("deadline %v after the request, want about the 3 s timeout", d)
	}

	post := func(path, body string, header http.Header) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("invocation/other/response", "{}", nil); code != 400 || !strings.Contains(body, "InvalidRequestID") {
		t.Errorf("response for an unknown request id: %d %s, want 400", code, body)
	}
	if code, _ := post("invocation/req-1/unknown", "{}", nil); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
	code, rbody := post("invocation/req-1/response", `{"ok":true}`, http.Header{"Expect": {"100-continue"}})
	if code != 202 || rbody != `{"status":"OK"}`+"\n" {
		t.Errorf("response: %d %q, want 202", code, rbody)
	}
	awaitDone(t, e)
	if !inv.completed || inv.errorType != "" || inv.resp.String() != `{"ok":true}` {
		t.Errorf("invocation = completed %v, errorType %q, response %q", inv.completed, inv.errorType, inv.resp)
	}
	if code, _ := post("invocation/req-1/response", `{}`, nil); code != 400 {
		t.Errorf("a second response for the same invocation: %d, want 400", code)
	}

	// A streamed response that fails half-way reports its error in trailers.
	e.clearInv()
	inv2 := &invocation{id: "req-2", payload: []byte(`{}`), timeout: time.Second}
	next := make(chan error, 1)
	go func() {
		resp, err := client.Get(base + "invocation/next")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		next <- err
	}()
	sluicetest.WaitFor(t, "GET next to wait", 5*time.Second, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.waiting != nil
	})
	e.dispatch(inv2)
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	errBody := base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"broken stream","errorType":"Stream.Failed"}`))
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", base+"invocation/req-2/response", pr)
	req.Trailer = http.Header{"Lambda-Runtime-Function-Error-Type": nil, "Lambda-Runtime-Function-Error-Body": nil}
	go func() {
		pw.Write([]byte(`{"partial`))
		req.Trailer.Set("Lambda-Runtime-Function-Error-Type", "Stream.Failed")
		req.Trailer.Set("Lambda-Runtime-Function-Error-Body", errBody)
		pw.Close()
	}()
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	awaitDone(t, e)
	if resp.StatusCode != 202 || inv2.errorType != "Stream.Failed" || !strings.Contains(inv2.resp.String(), "broken stream") {
		t.Errorf("trailer error: %d, errorType %q, body %q", resp.StatusCode, inv2.errorType, inv2.resp)
	}
}

func TestNormalizeError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, header, wantType, wantBody string
	}{
		{`{"errorMessage":"boom","errorType":"errorString"}`, "", "errorString", `{"errorMessage":"boom","errorType":"errorString"}`},
		{`{"errorMessage":"boom"}`, "Runtime.X", "Runtime.X", `{"errorMessage":"boom"}`},
		{`{"errorMessage":"boom"}`, "", "Unhandled", `{"errorMessage":"boom"}`},
		{`plain text`, "", "Unhandled", `{"errorType":"Unhandled","errorMessage":"plain text"}`},
		{``, "Runtime.Y", "Runtime.Y", `{"errorType":"Runtime.Y","errorMessage":""}`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		got := normalizeError(&buf, []byte(tt.body), tt.header)
		if got != tt.wantType || buf.String() != tt.wantBody {
			t.Errorf("normalizeError(%q, %q) = %q, %s; want %q, %s", tt.body, tt.header, got, buf.String(), tt.wantType, tt.wantBody)
		}
	}
}
