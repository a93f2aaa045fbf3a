package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestInProcessTransport(t *testing.T) {
	t.Parallel()
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Header().Set("X-Late", "ignored") // after WriteHeader, as on the wire
		_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`","body":"`+string(body)+`"}`)
	})
	hc := &http.Client{Transport: inProcess{api: api}}
	resp, err := hc.Post("http://sluice.in-process/api/v1/x", "application/json", strings.NewReader("hi"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || string(got) != `{"path":"/api/v1/x","body":"hi"}` || resp.Header.Get("X-Late") != "" {
		t.Errorf("got %d %q (X-Late %q)", resp.StatusCode, got, resp.Header.Get("X-Late"))
	}
	req, _ := http.NewRequest("GET", "http://sluice.in-process/api/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	if _, err := hc.Do(req); err == nil {
		t.Error("an event stream was accepted in-process")
	}
}
