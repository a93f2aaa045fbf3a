package httpapi

import "net/http"

// ConsoleFunc builds the web console's handler. It is given the API
// handler so that the console can call the API in-process; the console
// must use nothing else (internal/web).
type ConsoleFunc func(api http.Handler) http.Handler

// mountCatchAll registers what answers the paths the route table does not
// match. Without a console that is noRoute's JSON 404 or 405 for every
// path. With one, the console serves every path outside /api/, and unknown
// paths under /api/ keep their JSON answers. Console pages are not API
// routes: they are not in the route table or the OpenAPI document.
func (s *server) mountCatchAll(console ConsoleFunc) {
	if console == nil {
		s.mux.Handle("/", s.handleFunc(s.noRoute))
		return
	}
	s.mux.Handle("/api/", s.handleFunc(s.noRoute))
	s.mux.Handle("/", console(s))
}

// isCatchAll reports whether a ServeMux pattern is one of mountCatchAll's.
func isCatchAll(pattern string) bool { return pattern == "/" || pattern == "/api/" }
