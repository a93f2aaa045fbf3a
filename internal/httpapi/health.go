package httpapi

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// pingTimeout bounds the database check of /health.
const pingTimeout = 2 * time.Second

// getHealth reports whether the server can reach its database, with what
// it runs on. It answers 503 with the same body when the database does not
// answer.
func (s *server) getHealth(w http.ResponseWriter, r *http.Request) error {
	h := apitype.Health{
		Status:         "ok",
		Version:        s.version,
		Database:       string(s.store.Dialect()),
		LocalLambdaURL: s.localLambdaURL,
		SingleSignOn:   s.oidc != nil,
	}
	if ip := net.ParseIP(s.clientIP(r)); ip != nil && ip.IsLoopback() && !s.behindProxy {
		h.AdminTokenFile = s.adminTokenFile
	}
	status := http.StatusOK
	if err := s.ping(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "health check: database does not answer", "request_id", requestID(r.Context()), "err", err)
		h.Status = "unavailable"
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
	return nil
}

// ping checks the database behind the store.
func (s *server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return s.store.Ping(ctx)
}

func (s *server) getVersion(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, apitype.Version{Version: s.version, GoVersion: runtime.Version()})
	return nil
}
