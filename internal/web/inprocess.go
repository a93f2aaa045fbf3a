package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// inProcess is an http.RoundTripper that serves each request with the API
// handler in this process: the console reads through the same public API,
// with the same checks and errors, as the CLI does over the network, without
// a socket. It buffers the whole response, so it serves request/response
// calls only; an event stream would never end, and is refused.
type inProcess struct {
	api http.Handler
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.Contains(req.Header.Get("Accept"), "text/event-stream") {
		return nil, errors.New("in-process API calls cannot follow an event stream")
	}
	r := req.Clone(req.Context())
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "in-process"
	// The console acts for the viewer: their session cookie goes with
	// every call, so the API authenticates and authorizes them, and their
	// address and connection, so that the audit log says where they are
	// and a session cookie is Secure when their page came over TLS.
	if v := viewerOf(req.Context()); v != nil {
		if v.cookie != "" {
			r.Header.Set("Cookie", v.cookie)
		}
		if len(v.forwardedFor) > 0 {
			r.Header["X-Forwarded-For"] = v.forwardedFor
		}
		r.RemoteAddr = v.remoteAddr
		r.TLS = v.tls
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	r.Host = cmp.Or(r.Host, req.URL.Host)
	w := &bufferedResponse{header: http.Header{}}
	t.api.ServeHTTP(w, r)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	header := w.sent
	if header == nil {
		header = w.header.Clone()
	}
	header.Set("Content-Length", strconv.Itoa(w.body.Len()))
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(&w.body),
		ContentLength: int64(w.body.Len()),
		Request:       req,
	}, nil
}

// bufferedResponse is the http.ResponseWriter of an in-process call.
type bufferedResponse struct {
	header http.Header
	// sent is the header as it was when the status was written.
	sent        http.Header
	status      int
	body        bytes.Buffer
	wroteHeader bool
}

func (w *bufferedResponse) Header() http.Header { return w.header }

func (w *bufferedResponse) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	w.status = code
	// Later changes to the header map must not show, as on the wire.
	w.sent = w.header.Clone()
}

func (w *bufferedResponse) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(b)
}

type viewerKey struct{}

// viewer is what in-process API calls carry of the browser's request.
type viewer struct {
	cookie       string
	remoteAddr   string
	forwardedFor []string
	tls          *tls.ConnectionState
}

// withViewer returns ctx carrying the browser request's cookies, address
// and connection, which in-process API calls made with ctx send.
func withViewer(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, viewerKey{}, &viewer{
		// HTTP/2 may send the cookies in several headers.
		cookie:       strings.Join(r.Header.Values("Cookie"), "; "),
		remoteAddr:   r.RemoteAddr,
		forwardedFor: r.Header.Values("X-Forwarded-For"),
		tls:          r.TLS,
	})
}

// withoutCookie returns ctx whose in-process API calls send the viewer's
// address but not their cookies: opening a session must not present the
// session the browser may already hold, which would need its CSRF token.
func withoutCookie(ctx context.Context) context.Context {
	v := viewerOf(ctx)
	if v == nil {
		return ctx
	}
	anon := *v
	anon.cookie = ""
	return context.WithValue(ctx, viewerKey{}, &anon)
}

func viewerOf(ctx context.Context) *viewer {
	v, _ := ctx.Value(viewerKey{}).(*viewer)
	return v
}
