package cloudfront

import "net/http"

// EdgeHandler serves the distributions over HTTP (see the package comment).
func (p *Plane) EdgeHandler() http.Handler {
	return http.NotFoundHandler()
}
