package savedconfigs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/canary/savedconfigs"
	"github.com/sluice-cd/sluice/internal/sluicetest"
	"github.com/sluice-cd/sluice/internal/store"
)

// TestCanaryConfig: a saved config is found by name or by ID, newest
// revision first; a ref that names none is an error listing those saved.
func TestCanaryConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := sluicetest.OpenSQLite(t)
	configs := savedconfigs.Of(st)
	if _, err := configs.CanaryConfig(ctx, "errors"); err == nil || !strings.Contains(err.Error(), "none is saved") {
		t.Errorf("empty store: %v; want an error saying none is saved", err)
	}
	for _, doc := range []string{`{"name":"errors","description":"one"}`, `{"name":"errors","description":"two"}`, `{"name":"latency"}`} {
		name := "errors"
		if strings.Contains(doc, "latency") {
			name = "latency"
		}
		if _, err := st.CanaryConfigSave(ctx, &store.CanaryConfigSaveParams{Name: name, Document: []byte(doc), User: "ann"}); err != nil {
			t.Fatal(err)
		}
	}
	byName, err := configs.CanaryConfig(ctx, "errors")
	if err != nil || byName.Revision != 2 || !strings.Contains(string(byName.Document), "two") {
		t.Fatalf("by name: %+v, %v; want revision 2", byName, err)
	}
	byID, err := configs.CanaryConfig(ctx, byName.ID)
	if err != nil || byID.Name != "errors" || byID.Revision != 2 {
		t.Errorf("by ID %s: %+v, %v", byName.ID, byID, err)
	}
	if _, err := configs.CanaryConfig(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "the saved ones are errors, latency") {
		t.Errorf("unknown: %v; want the saved names", err)
	}
}
