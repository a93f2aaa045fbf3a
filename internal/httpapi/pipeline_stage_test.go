package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/pipeline"
)

// TestSaveChecksApplicationGrants: saving a pipeline whose pipeline stage
// or pipeline trigger reaches another application needs the policy's
// application grant, and the refusal names both applications and the
// grant.
func TestSaveChecksApplicationGrants(t *testing.T) {
	cfg, err := auth.ParseConfig([]byte("auth:\n  applications:\n    payments:\n      execute: [\"application:shop\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	policy := auth.NewPolicy(cfg)
	c, _ := setup(t, func(c *httpapi.Config) {
		c.Validate = pipeline.ValidateOptions{CheckApplication: policy.CheckApplication}
	})
	ctx := context.Background()
	allowed := `{"stages":[{"refId":"1","type":"pipeline","name":"Pay","application":"payments","pipeline":"p1"}]}`
	if _, err := c.PutPipeline(ctx, "shop", "release", []byte(allowed), "application/json"); err != nil {
		t.Fatalf("shop → payments is granted: %v", err)
	}
	refused := `{"stages":[{"refId":"1","type":"pipeline","name":"Ship","application":"shop","pipeline":"p2"}],
		"triggers":[{"type":"pipeline","application":"shop","pipeline":"p3","status":["successful"],"enabled":true}]}`
	_, err = c.PutPipeline(ctx, "payments", "settle", []byte(refused), "application/json")
	e := apiError(t, err, http.StatusBadRequest, "invalid_pipeline")
	containsAll(t, "problem paths", detailPaths(e), "stages[0].application")
	for _, d := range e.Details {
		if d.Path == "stages[0].application" && !strings.Contains(d.Message, `"application:payments" under auth.applications.shop.execute`) {
			t.Errorf("refusal %q does not say which grant allows it", d.Message)
		}
	}
	// The trigger runs the other way: shop's end starts payments' pipeline,
	// which the grant allows.
	for _, d := range e.Details {
		if strings.HasPrefix(d.Path, "triggers") {
			t.Errorf("trigger refused: %s: %s", d.Path, d.Message)
		}
	}
}
