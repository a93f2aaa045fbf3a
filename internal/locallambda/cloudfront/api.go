package cloudfront

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// apiVersion is the first path segment of every CloudFront operation.
const apiVersion = "/2020-05-31"

// Handler serves the CloudFront API (REST-XML, /2020-05-31/…): the
// distribution and continuous-deployment-policy operations. The server
// routes to it requests signed for the "cloudfront" service, after
// package access has checked them.
func (p *Plane) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := []struct {
		pattern string
		op      func(*http.Request) (*response, error)
	}{
		{"POST /distribution", p.createDistribution},
		{"GET /distribution", p.listDistributions},
		{"GET /distribution/{id}", p.getDistribution},
		{"DELETE /distribution/{id}", p.deleteDistribution},
		{"GET /distribution/{id}/config", p.getDistributionConfig},
		{"PUT /distribution/{id}/config", p.updateDistribution},
		{"POST /distribution/{id}/copy", p.copyDistribution},
		{"PUT /distribution/{id}/promote-staging-config", p.promoteStagingConfig},
		{"POST /continuous-deployment-policy", p.createPolicy},
		{"GET /continuous-deployment-policy", p.listPolicies},
		{"GET /continuous-deployment-policy/{id}", p.getPolicy},
		{"GET /continuous-deployment-policy/{id}/config", p.getPolicyConfig},
		{"PUT /continuous-deployment-policy/{id}", p.updatePolicy},
		{"DELETE /continuous-deployment-policy/{id}", p.deletePolicy},
	}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		op := rt.op
		mux.HandleFunc(method+" "+apiVersion+path, func(w http.ResponseWriter, r *http.Request) {
			res, err := op(r)
			if err != nil {
				writeError(w, err)
				return
			}
			res.write(w)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotImplemented, "NotImplemented",
			"The local CloudFront does not implement %s %s: it serves distributions (create, get, get config, update, list, delete, copy, promote staging config) "+
				"and continuous-deployment policies.", r.Method, r.URL.Path))
	})
	return mux
}

// response is an operation's answer: status, ETag (and Location) headers
// and an XML document.
type response struct {
	status   int
	etag     string
	location string
	body     *node
}

func (res *response) write(w http.ResponseWriter) {
	h := w.Header()
	if res.etag != "" {
		h.Set("ETag", res.etag)
	}
	if res.location != "" {
		h.Set("Location", res.location)
	}
	if res.body == nil {
		w.WriteHeader(res.status)
		return
	}
	b := res.body.render()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(res.status)
	_, _ = w.Write(b)
}

// readDocument reads the request body as an XML document whose root is
// named root.
func readDocument(r *http.Request, root string) (*node, error) {
	if r.Body == nil {
		return nil, missingBody()
	}
	n, err := parseDocument(r.Body)
	switch {
	case errors.Is(err, io.EOF):
		return nil, missingBody()
	case errors.Is(err, errMalformed):
		return nil, errorf(http.StatusBadRequest, "MalformedInput", "The XML document you provided was not well-formed: %v.", err)
	case err != nil:
		return nil, err
	}
	if n.Name != root {
		return nil, errorf(http.StatusBadRequest, "MalformedInput", "The request body's root element must be %s, not %s.", root, n.Name)
	}
	return n, nil
}

func missingBody() *apiError {
	return errorf(http.StatusBadRequest, "MissingBody", "This operation requires a body. Ensure that the body is present and the Content-Type header is set.")
}

// ifMatch is the request's If-Match ETag: missing is InvalidIfMatchVersion.
func ifMatch(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return "", missingIfMatch()
	}
	return v, nil
}

// listParams reads Marker and MaxItems (default 100).
func listParams(r *http.Request) (marker string, max int, err error) {
	q := r.URL.Query()
	marker, max = q.Get("Marker"), 100
	if s := q.Get("MaxItems"); s != "" {
		n, convErr := strconv.Atoi(s)
		if convErr != nil || n < 1 {
			return "", 0, invalidArgument("MaxItems must be a positive number, not %q.", s)
		}
		max = min(n, 1000)
	}
	return marker, max, nil
}
