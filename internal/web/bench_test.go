package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// BenchmarkConsolePages measures what a signed-in viewer's page costs
// beside what finding the viewer costs: every page now starts with one
// in-process GET /api/v1/session, which "session" makes the same way,
// through the handler with the page's cookie and no socket. (Each page's
// own API calls authenticate the cookie too.) Run the test binary several
// times to interleave the cases round by round; the session's share of a
// page is session ÷ page within a round.
func BenchmarkConsolePages(b *testing.B) {
	s := newTestServerWith(b, serverOptions{})
	s.apply(b, "hello", "broken", []byte(failingPipeline))
	exec, err := s.client.Trigger(b.Context(), "hello", "broken", apitype.TriggerRequest{})
	if err != nil {
		b.Fatal(err)
	}
	s.waitExecution(b, exec.ID, "TERMINAL", func(e *apitype.Execution) bool { return e.Status == "TERMINAL" })
	u, err := url.Parse(s.URL)
	if err != nil {
		b.Fatal(err)
	}
	cookies := s.web.Jar.Cookies(u)

	for _, bc := range []struct{ name, path string }{
		{"session", "/api/v1/session"},
		{"applications", "/"},
		{"execution", "/executions/" + exec.ID},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, s.URL+bc.path, nil)
				req.RemoteAddr = "127.0.0.1:40000"
				for _, c := range cookies {
					req.AddCookie(c)
				}
				w := httptest.NewRecorder()
				s.handler.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s = %d", bc.path, w.Code)
				}
			}
		})
	}
}
