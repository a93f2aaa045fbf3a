package webhook

import (
	"testing"
	"time"
)

// FuzzResponse: any response body, read at any JSONPath that parses, is
// read without panicking and within a time bound — the body comes from
// whatever the webhook's receiver sends.
func FuzzResponse(f *testing.F) {
	for _, seed := range []struct{ body, path string }{
		{`{"status":"SUCCESS","links":{"status":"http://localhost/s"}}`, "$.status"},
		{`{"jobs":[{"s":1},{"s":2}]}`, "$.jobs[?@.s>1].s"},
		{`[1,2,3]`, "$[-1]"},
		{`not json`, "status"},
		{`{"a":{"b":{"c":[{"d":"e"}]}}}`, "$..d"},
		{``, "['a b']"},
	} {
		f.Add([]byte(seed.body), seed.path)
	}
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		start := time.Now()
		doc := parseBody(body)
		p, err := compilePath(path)
		if err != nil {
			return
		}
		v, found := readPath(p, doc)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("reading %q at %q took %s", body, path, d)
		}
		if p.Query().Singular() == nil && !found {
			t.Fatalf("a path that is not singular always finds a list, got nothing for %q", path)
		}
		if found && p.Query().Singular() == nil {
			if _, ok := v.([]any); !ok {
				t.Fatalf("path %q found %T, want a list", path, v)
			}
		}
	})
}
