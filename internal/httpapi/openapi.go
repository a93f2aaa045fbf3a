package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every route of the table in routes.go;
// TestOpenAPICoversRoutes keeps the two in step, and every request the
// httpapi tests make, with its response, is checked against it
// (openapi_check_test.go).
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *server) getOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
	return nil
}
