package restapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Handler serves one operation. The error it returns is the response: the
// router renders it with awserr.Write (an *awserr.Error as itself,
// anything else as a 500 ServiceException). Path wildcards are read with
// r.PathValue, already percent-decoded.
type Handler func(w http.ResponseWriter, r *http.Request) error

// Route is one operation.
type Route struct {
	// Method is the HTTP method; only it matches (GET does not serve HEAD).
	Method string
	// Path is the ServeMux path pattern: literal segments and {name}
	// wildcards of one segment each, e.g. "/2015-03-31/functions/{function}".
	Path string
	// Op names the operation in logs, e.g. "GetFunction".
	Op string
	// Handle serves it.
	Handle Handler
	// Raw marks an operation that writes its own response, headers and
	// errors included (Invoke, the data plane's): the router adds no
	// request ID, recovers no panic and logs nothing for it.
	Raw bool
}

// Config configures a router.
type Config struct {
	// Routes are the operations. Two routes that match the same requests
	// are a programmer error: New panics, as ServeMux does.
	Routes []Route
	// NotFound answers every request no route matches, wrong methods
	// included: http.HandlerFunc(UnknownOperation) for the Lambda API.
	// Default http.NotFoundHandler().
	NotFound http.Handler
	// Logger receives a Debug line per operation and an Error line for an
	// error that is not an *awserr.Error (and for a panic). Nil discards.
	Logger *slog.Logger
}

// router is the http.Handler New returns.
type router struct {
	mux      *http.ServeMux
	notFound http.Handler
	log      *slog.Logger
}

// New builds the router of cfg.Routes.
func New(cfg Config) http.Handler {
	rt := &router{mux: http.NewServeMux(), notFound: cfg.NotFound, log: cfg.Logger}
	if rt.notFound == nil {
		rt.notFound = http.NotFoundHandler()
	}
	if rt.log == nil {
		rt.log = slog.New(slog.DiscardHandler)
	}
	for _, route := range cfg.Routes {
		rt.mux.Handle(route.Method+" "+route.Path, rt.operation(route))
	}
	rt.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		rt.notFound.ServeHTTP(w, restore(r))
	})
	return rt
}

// originalURL is the context key under which ServeHTTP keeps the request's
// own URL while ServeMux matches the re-escaped one.
type originalURL struct{}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u := *r.URL
	u.Path, u.RawPath = muxPath(r.URL.EscapedPath())
	mr := r.WithContext(context.WithValue(r.Context(), originalURL{}, r.URL))
	mr.URL = &u
	rt.mux.ServeHTTP(w, mr)
}

// restore gives a matched request its own URL back.
func restore(r *http.Request) *http.Request {
	if u, ok := r.Context().Value(originalURL{}).(*url.URL); ok {
		r.URL = u
	}
	return r
}

// muxPath is the path ServeMux matches for an escaped request path: its
// segments, without leading and trailing slashes, each escaped once more,
// so that ServeMux's unescaping yields the segment as sent. Empty and dot
// segments get forms that ServeMux does not clean: "%25" (decoded "%",
// which no escaped segment can be) and "%2E" / "%2E%2E".
func muxPath(escaped string) (path, rawPath string) {
	segs := strings.Split(strings.Trim(escaped, "/"), "/")
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		switch s {
		case "":
			b.WriteString("%25")
		case ".":
			b.WriteString("%2E")
		case "..":
			b.WriteString("%2E%2E")
		default:
			b.WriteString(url.PathEscape(s))
		}
	}
	rawPath = b.String()
	path, _ = url.PathUnescape(rawPath) // cannot fail: rawPath is escaped
	return path, rawPath
}

// operation wraps a route's handler: the exact method, the wildcards
// decoded, and (unless Raw) the AWS frame.
func (rt *router) operation(route Route) http.Handler {
	var wildcards []string
	for _, seg := range strings.Split(route.Path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			wildcards = append(wildcards, strings.TrimSuffix(name, "}"))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = restore(r)
		if r.Method != route.Method {
			rt.notFound.ServeHTTP(w, r)
			return
		}
		for _, name := range wildcards {
			v := r.PathValue(name)
			if v == "%" {
				v = "" // an empty segment
			} else {
				v, _ = url.PathUnescape(v) // cannot fail: v is a segment of an escaped path
			}
			r.SetPathValue(name, v)
		}
		if route.Raw {
			if err := route.Handle(w, r); err != nil {
				awserr.Write(w, err)
			}
			return
		}
		rt.serve(route, w, r)
	})
}

// serve runs a control-plane operation in its AWS frame.
func (rt *router) serve(route Route, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w}
	rec.Header().Set("X-Amzn-RequestId", uuid.NewString())
	if err := rt.call(route, rec, r); err != nil {
		var ae *awserr.Error
		if !errors.As(err, &ae) {
			rt.log.Error("local lambda: "+route.Op, "err", err)
		}
		awserr.Write(rec, err)
	}
	rt.log.Debug("local lambda: "+route.Op, "method", r.Method, "path", r.URL.EscapedPath(), "status", rec.status, "duration", time.Since(start))
}

// call runs a handler; a panic becomes a ServiceException rather than a
// dropped connection.
func (rt *router) call(route Route, w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			rt.log.Error("local lambda: panic in "+route.Op, "panic", v)
			err = fmt.Errorf("%s: internal error: %v", route.Op, v)
		}
	}()
	return route.Handle(w, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
