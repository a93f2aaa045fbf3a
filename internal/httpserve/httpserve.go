// Package httpserve owns the limits every HTTP server of the binary runs
// with — the API and console (sluice serve, sluice demo) and the local
// Lambda (sluice serve, sluice local serve) — so that they are written
// once: how long a client may take to send its headers and its body, how
// long an idle connection stays open, and how large the headers may be.
//
// The body deadline is not http.Server.ReadTimeout, which bounds the
// whole request from its first byte: one value cannot both cut off a
// client dribbling a 1 KB body and let a 240 MB package arrive over a slow
// link. Instead the handler wrapper (Handler) sets a read deadline for the
// body alone, through http.ResponseController, moves it on each time
// another BodyProgress bytes arrive, and clears it when the body ends, so
// that the response — an event stream, an Invoke that runs for a
// function's 900-second timeout — has no deadline. (net/http also clears
// the read deadline when, the body read, it starts watching the connection
// for the client leaving; the wrapper does not rely on that.) There is no
// WriteTimeout, for the same responses.
//
// It must not know about routes, authentication or what a handler serves.
package httpserve

import (
	"cmp"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Defaults of Config.
const (
	// DefaultReadHeaderTimeout is how long a client has to send a request
	// line and headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout is how long a request body may go without
	// delivering BodyProgress more bytes.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes bounds the request line and headers: ample for
	// SigV4-signed AWS requests and for session cookies, far below
	// net/http's 1 MB.
	DefaultMaxHeaderBytes = 64 << 10
	// BodyProgress is how much of a body must arrive within each
	// BodyTimeout: a large upload at any reasonable rate keeps its
	// connection, one that dribbles does not.
	BodyProgress = 1 << 20
)

// Config configures a server. Zero values take the documented defaults.
type Config struct {
	// Handler serves the requests; New wraps it with Handler.
	Handler http.Handler
	// ReadHeaderTimeout: DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// BodyTimeout: DefaultBodyTimeout. The body of a request must deliver
	// BodyProgress bytes (or end) within each BodyTimeout, starting when
	// its headers have been read; otherwise the read fails and the
	// connection is closed.
	BodyTimeout time.Duration
	// IdleTimeout: DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxHeaderBytes: DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// BaseContext, if set, is the server's BaseContext.
	BaseContext func(net.Listener) context.Context
	// Logger receives the server's own errors (a client's TLS handshake,
	// a panic in a handler) at ErrorLevel. Nil discards them.
	Logger     *slog.Logger
	ErrorLevel slog.Level
}

// New returns a server for cfg with the package's limits. It has no
// ReadTimeout and no WriteTimeout: a response (an event stream, a long
// Invoke) is never cut for its duration.
func New(cfg Config) *http.Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           Handler(cfg.Handler, cfg.BodyTimeout),
		ReadHeaderTimeout: cmp.Or(cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:       cmp.Or(cfg.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    cmp.Or(cfg.MaxHeaderBytes, DefaultMaxHeaderBytes),
		BaseContext:       cfg.BaseContext,
		ErrorLog:          slog.NewLogLogger(log.Handler(), cfg.ErrorLevel),
	}
}

// Handler wraps h so that every request body has a read deadline:
// bodyTimeout (≤ 0 means DefaultBodyTimeout) after the headers, moved
// bodyTimeout later each time another BodyProgress bytes arrive, and
// cleared when the body has been read to its end, so that what the
// handler does afterwards has no deadline. A request without a body gets
// no deadline at all. Where the ResponseWriter cannot set deadlines (a
// test recorder), the request passes unchanged.
func Handler(h http.Handler, bodyTimeout time.Duration) http.Handler {
	if bodyTimeout <= 0 {
		bodyTimeout = DefaultBodyTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(bodyTimeout)); err != nil {
			h.ServeHTTP(w, r)
			return
		}
		r.Body = &body{ReadCloser: r.Body, rc: rc, timeout: bodyTimeout}
		h.ServeHTTP(w, r)
	})
}

// body is a request body under a read deadline.
type body struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	since   int64 // bytes read since the deadline was last set
	done    bool  // the deadline has been cleared
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.done {
		return n, err
	}
	b.since += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		// The whole body is in: from here on the server's own read only
		// watches for the client leaving, and must not time out.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err == nil && b.since >= BodyProgress:
		b.since = 0
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	return n, err
}
