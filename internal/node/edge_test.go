package node_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/node"
)

// TestEdgeProxy starts a node with --edge-addr: the embedded local
// Lambda's CloudFront edge proxy answers on it (an unknown Host gets
// CloudFront's 403 page), and asking for it without a local Lambda is
// refused with a hint.
func TestEdgeProxy(t *testing.T) {
	t.Parallel()
	n, err := node.Start(t.Context(), node.Options{DataDir: t.TempDir(), LambdaAddr: "127.0.0.1:0", EdgeAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer closeNode(t, n)
	if n.EdgeAddr == nil {
		t.Fatal("EdgeAddr is nil; want the edge proxy's address")
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.EdgeAddr.String()+"/", nil)
	req.Host = "enosuchdist123.cloudfront.localhost"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Cache") != "Error from cloudfront" {
		t.Errorf("unknown distribution: %s, X-Cache %q; want 403 from the edge proxy", resp.Status, resp.Header.Get("X-Cache"))
	}

	_, err = node.Start(t.Context(), node.Options{DataDir: t.TempDir(), LambdaAddr: node.LambdaOff, EdgeAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "--edge-addr") {
		t.Errorf("Start with --edge-addr and no local Lambda: %v; want a refusal naming --edge-addr", err)
	}
}
