package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

var canaryConfigTests = []test{
	{"SaveNewAndGet", testCanaryConfigSaveNewAndGet},
	{"SaveAppendsRevision", testCanaryConfigSaveAppendsRevision},
	{"NotFound", testCanaryConfigNotFound},
	{"ListAndDelete", testCanaryConfigListAndDelete},
	{"SaveRejectsInvalidDocument", testCanaryConfigSaveRejectsInvalidDocument},
}

// canaryDoc is a canary config document in an unusual but valid layout:
// the store must keep its bytes, not re-encode it.
func canaryDoc(name string, n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf("{\n  \"name\" : %q,\n  \"configVersion\": \"1.0\", \"weight\": 1.50,\n  \"rev\": %d, \"é\": \"\\u00e9\"\n}", name, n))
}

func mustSaveCanary(t *testing.T, s store.Querier, params *store.CanaryConfigSaveParams) *store.CanaryConfig {
	t.Helper()
	c, err := s.CanaryConfigSave(t.Context(), params)
	if err != nil {
		t.Fatalf("CanaryConfigSave(%s): %v", params.Name, err)
	}
	return c
}

func testCanaryConfigSaveNewAndGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Truncate(time.Microsecond)
	c := mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "latency", Applications: []string{"web", "api"},
		Document: canaryDoc("latency", 1), User: "ann"})
	after := time.Now()
	if c.ID == "" {
		t.Error("CanaryConfigSave: got empty ID, want a fresh one")
	}
	if c.CreatedAt.Before(before) || c.CreatedAt.After(after) || c.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want UTC between %v and %v", c.CreatedAt, before, after)
	}
	want := &store.CanaryConfig{ID: c.ID, Name: "latency", Revision: 1, Applications: []string{"web", "api"},
		Document: canaryDoc("latency", 1), CreatedBy: "ann", CreatedAt: c.CreatedAt}
	check(t, "CanaryConfigSave", c, want)

	got, err := s.CanaryConfigGet(ctx, "latency")
	if err != nil {
		t.Fatalf("CanaryConfigGet: %v", err)
	}
	check(t, "CanaryConfigGet (document byte for byte)", got, want)

	noApps := mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "shared", Document: canaryDoc("shared", 1)})
	got, err = s.CanaryConfigGet(ctx, "shared")
	if err != nil {
		t.Fatalf("CanaryConfigGet(shared): %v", err)
	}
	check(t, "CanaryConfigGet without applications", got, noApps)
	check(t, "Applications without applications", got.Applications, []string{})
}

func testCanaryConfigSaveAppendsRevision(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "latency", Applications: []string{"web"}, Document: canaryDoc("latency", 1), User: "ann"})
	second := mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "latency", Applications: []string{"web", "api"}, Document: canaryDoc("latency", 2), User: "bob"})
	third := mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "latency", Applications: []string{"api"}, Document: canaryDoc("latency", 3), User: "cy"})
	for i, c := range []*store.CanaryConfig{first, second, third} {
		if c.ID != first.ID || c.Revision != i+1 || c.CreatedBy != []string{"ann", "bob", "cy"}[i] {
			t.Errorf("save %d: got ID %q revision %d by %q, want %q, %d", i+1, c.ID, c.Revision, c.CreatedBy, first.ID, i+1)
		}
	}
	got, err := s.CanaryConfigGet(ctx, "latency")
	if err != nil {
		t.Fatalf("CanaryConfigGet: %v", err)
	}
	check(t, "CanaryConfigGet returns the newest revision", got, third)

	revs, err := s.CanaryConfigRevisionList(ctx, "latency")
	if err != nil {
		t.Fatalf("CanaryConfigRevisionList: %v", err)
	}
	check(t, "CanaryConfigRevisionList, newest first", revs, []*store.CanaryConfig{third, second, first})

	rev, err := s.CanaryConfigRevisionGet(ctx, "latency", 2)
	if err != nil {
		t.Fatalf("CanaryConfigRevisionGet(2): %v", err)
	}
	check(t, "CanaryConfigRevisionGet(2)", rev, second)
	_, err = s.CanaryConfigRevisionGet(ctx, "latency", 4)
	checkErr(t, "CanaryConfigRevisionGet(4)", err, store.ErrNotFound, "latency", "4")
}

func testCanaryConfigNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "latency", Document: canaryDoc("latency", 1)})
	_, err := s.CanaryConfigGet(ctx, "missing")
	checkErr(t, "CanaryConfigGet", err, store.ErrNotFound, "missing")
	_, err = s.CanaryConfigRevisionList(ctx, "missing")
	checkErr(t, "CanaryConfigRevisionList", err, store.ErrNotFound, "missing")
	_, err = s.CanaryConfigRevisionGet(ctx, "missing", 1)
	checkErr(t, "CanaryConfigRevisionGet", err, store.ErrNotFound, "missing")
	err = s.CanaryConfigDelete(ctx, "missing")
	checkErr(t, "CanaryConfigDelete", err, store.ErrNotFound, "missing")
}

func testCanaryConfigListAndDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, name := range []string{"b", "a", "C", "d"} {
		mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: name, Document: canaryDoc(name, 1)})
	}
	mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "a", Document: canaryDoc("a", 2)})
	if err := s.CanaryConfigDelete(ctx, "d"); err != nil {
		t.Fatalf("CanaryConfigDelete: %v", err)
	}
	names := func() []string {
		t.Helper()
		cs, err := s.CanaryConfigList(ctx)
		if err != nil {
			t.Fatalf("CanaryConfigList: %v", err)
		}
		out := []string{}
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s@%d", c.Name, c.Revision))
			if string(c.Document) != string(canaryDoc(c.Name, c.Revision)) {
				t.Errorf("CanaryConfigList: %s document = %s, want %s", c.Name, c.Document, canaryDoc(c.Name, c.Revision))
			}
		}
		return out
	}
	// Bytewise order: upper case before lower case.
	check(t, "CanaryConfigList without the deleted one", names(), []string{"C@1", "a@2", "b@1"})

	// A deleted config is gone to every read, and deleting it again is
	// not found; saving it again revives it with the next revision.
	_, err := s.CanaryConfigGet(ctx, "d")
	checkErr(t, "CanaryConfigGet of a deleted config", err, store.ErrNotFound, "d")
	_, err = s.CanaryConfigRevisionList(ctx, "d")
	checkErr(t, "CanaryConfigRevisionList of a deleted config", err, store.ErrNotFound, "d")
	err = s.CanaryConfigDelete(ctx, "d")
	checkErr(t, "CanaryConfigDelete twice", err, store.ErrNotFound, "d")
	revived := mustSaveCanary(t, s, &store.CanaryConfigSaveParams{Name: "d", Document: canaryDoc("d", 2)})
	if revived.Revision != 2 {
		t.Errorf("saving a deleted config: revision %d, want 2 (revisions are kept)", revived.Revision)
	}
	check(t, "CanaryConfigList after reviving", names(), []string{"C@1", "a@2", "b@1", "d@2"})
	revs, err := s.CanaryConfigRevisionList(ctx, "d")
	if err != nil {
		t.Fatalf("CanaryConfigRevisionList(d): %v", err)
	}
	if len(revs) != 2 {
		t.Errorf("CanaryConfigRevisionList(d) after reviving: %d revisions, want 2", len(revs))
	}
}

func testCanaryConfigSaveRejectsInvalidDocument(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		params  store.CanaryConfigSaveParams
		mention string
	}{
		{store.CanaryConfigSaveParams{Name: "x", Document: json.RawMessage(`{"name":`)}, "not valid JSON"},
		{store.CanaryConfigSaveParams{Name: "x"}, "empty"},
		{store.CanaryConfigSaveParams{Document: canaryDoc("x", 1)}, "name is required"},
	} {
		_, err := s.CanaryConfigSave(ctx, &tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("CanaryConfigSave(%+v): got error %v, want one mentioning %q", tc.params, err, tc.mention)
		}
	}
	_, err := s.CanaryConfigGet(ctx, "x")
	checkErr(t, "CanaryConfigGet after rejected saves", err, store.ErrNotFound, "x")
}
