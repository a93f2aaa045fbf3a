package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

var pipelineTests = []test{
	{"SaveNewAndGet", testPipelineSaveNewAndGet},
	{"SaveAppendsRevision", testPipelineSaveAppendsRevision},
	{"NotFound", testPipelineNotFound},
	{"List", testPipelineList},
	{"DeleteAndRevive", testPipelineDeleteAndRevive},
	{"SaveIDConflict", testPipelineSaveIDConflict},
	{"SaveRejectsInvalidDocument", testPipelineSaveRejectsInvalidDocument},
	{"SaveConcurrent", testPipelineSaveConcurrent},
}

func doc(app, name string, n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"application":%q,"name":%q,"stages":[],"rev":%d}`, app, name, n))
}

func testPipelineSaveNewAndGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Truncate(time.Microsecond)
	p := mustSave(t, s, &store.PipelineSaveParams{Application: "app", Name: "deploy", Document: doc("app", "deploy", 1), User: "ann"})
	after := time.Now()
	if p.ID == "" {
		t.Error("PipelineSave without ID: got empty ID, want a fresh one")
	}
	if p.CreatedAt.Before(before) || p.CreatedAt.After(after) || p.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want UTC between %v and %v", p.CreatedAt, before, after)
	}
	want := &store.Pipeline{ID: p.ID, Application: "app", Name: "deploy", Revision: 1,
		Document: doc("app", "deploy", 1), CreatedBy: "ann", CreatedAt: p.CreatedAt}
	check(t, "PipelineSave", p, want)

	got, err := s.PipelineGet(ctx, "app", "deploy")
	if err != nil {
		t.Fatalf("PipelineGet: %v", err)
	}
	check(t, "PipelineGet", got, want)

	got, err = s.PipelineGetByID(ctx, p.ID)
	if err != nil {
		t.Fatalf("PipelineGetByID: %v", err)
	}
	check(t, "PipelineGetByID", got, want)

	withID := mustSave(t, s, &store.PipelineSaveParams{ID: "chosen-id", Application: "app", Name: "other", Document: doc("app", "other", 1)})
	if withID.ID != "chosen-id" {
		t.Errorf("PipelineSave with ID: got ID %q, want %q", withID.ID, "chosen-id")
	}
}

func testPipelineSaveAppendsRevision(t *testing.T, s store.Store) {
	ctx := t.Context()
	first := mustSave(t, s, &store.PipelineSaveParams{ID: "p-1", Application: "app", Name: "deploy", Document: doc("app", "deploy", 1), User: "ann"})
	second := mustSave(t, s, &store.PipelineSaveParams{ID: "ignored", Application: "app", Name: "deploy", Document: doc("app", "deploy", 2), User: "bob"})
	third := mustSave(t, s, &store.PipelineSaveParams{Application: "app", Name: "deploy", Document: doc("app", "deploy", 3), User: "cy"})
	for i, p := range []*store.Pipeline{first, second, third} {
		if p.ID != "p-1" || p.Revision != i+1 || p.CreatedBy != []string{"ann", "bob", "cy"}[i] {
			t.Errorf("save %d: got ID %q revision %d by %q, want p-1, %d", i+1, p.ID, p.Revision, p.CreatedBy, i+1)
		}
	}

	got, err := s.PipelineGet(ctx, "app", "deploy")
	if err != nil {
		t.Fatalf("PipelineGet: %v", err)
	}
	check(t, "PipelineGet returns the newest revision", got, third)

	revs, err := s.PipelineRevisionList(ctx, "p-1")
	if err != nil {
		t.Fatalf("PipelineRevisionList: %v", err)
	}
	check(t, "PipelineRevisionList, newest first", revs, []*store.Pipeline{third, second, first})

	rev, err := s.PipelineRevisionGet(ctx, "p-1", 1)
	if err != nil {
		t.Fatalf("PipelineRevisionGet(1): %v", err)
	}
	check(t, "PipelineRevisionGet(1)", rev, first)

	_, err = s.PipelineRevisionGet(ctx, "p-1", 4)
	checkErr(t, "PipelineRevisionGet(4)", err, store.ErrNotFound, "p-1", "4")
}

func testPipelineNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustSave(t, s, &store.PipelineSaveParams{Application: "app", Name: "deploy", Document: doc("app", "deploy", 1)})

	_, err := s.PipelineGet(ctx, "app", "missing")
	checkErr(t, "PipelineGet", err, store.ErrNotFound, "app", "missing")
	_, err = s.PipelineGet(ctx, "other", "deploy")
	checkErr(t, "PipelineGet other application", err, store.ErrNotFound, "other", "deploy")
	_, err = s.PipelineGetByID(ctx, "no-such-id")
	checkErr(t, "PipelineGetByID", err, store.ErrNotFound, "no-such-id")
	_, err = s.PipelineRevisionList(ctx, "no-such-id")
	checkErr(t, "PipelineRevisionList", err, store.ErrNotFound, "no-such-id")
	_, err = s.PipelineRevisionGet(ctx, "no-such-id", 1)
	checkErr(t, "PipelineRevisionGet", err, store.ErrNotFound, "no-such-id")
	err = s.PipelineDelete(ctx, "app", "missing")
	checkErr(t, "PipelineDelete", err, store.ErrNotFound, "app", "missing")
}

func testPipelineList(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, an := range [][2]string{{"b", "x"}, {"a", "z"}, {"a", "y"}, {"c", "w"}, {"a", "Y"}} {
		mustSave(t, s, &store.PipelineSaveParams{Application: an[0], Name: an[1], Document: doc(an[0], an[1], 1)})
	}
	mustSave(t, s, &store.PipelineSaveParams{Application: "a", Name: "z", Document: doc("a", "z", 2)})
	if err := s.PipelineDelete(ctx, "c", "w"); err != nil {
		t.Fatalf("PipelineDelete: %v", err)
	}

	names := func(ps []*store.Pipeline) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, fmt.Sprintf("%s/%s@%d", p.Application, p.Name, p.Revision))
		}
		return out
	}
	for _, tc := range []struct {
		app  string
		want []string
	}{
		// Bytewise order: upper case before lower case.
		{"", []string{"a/Y@1", "a/y@1", "a/z@2", "b/x@1"}},
		{"a", []string{"a/Y@1", "a/y@1", "a/z@2"}},
		{"c", []string{}},
		{"none", []string{}},
	} {
		ps, err := s.PipelineList(ctx, &store.PipelineListParams{Application: tc.app})
		if err != nil {
			t.Fatalf("PipelineList(%q): %v", tc.app, err)
		}
		check(t, fmt.Sprintf("PipelineList(%q)", tc.app), names(ps), tc.want)
	}
	ps, err := s.PipelineList(ctx, &store.PipelineListParams{Application: "b"})
	if err != nil {
		t.Fatalf("PipelineList: %v", err)
	}
	if len(ps) == 1 && string(ps[0].Document) != string(doc("b", "x", 1)) {
		t.Errorf("PipelineList document = %s, want %s", ps[0].Document, doc("b", "x", 1))
	}
}

func testPipelineDeleteAndRevive(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustSave(t, s, &store.PipelineSaveParams{ID: "p-1", Application: "app", Name: "deploy", Document: doc("app", "deploy", 1)})
	second := mustSave(t, s, &store.PipelineSaveParams{Application: "app", Name: "deploy", Document: doc("app", "deploy", 2)})

	if err := s.PipelineDelete(ctx, "app", "deploy"); err != nil {
		t.Fatalf("PipelineDelete: %v", err)
	}
	_, err := s.PipelineGet(ctx, "app", "deploy")
	checkErr(t, "PipelineGet after delete", err, store.ErrNotFound, "app", "deploy")
	err = s.PipelineDelete(ctx, "app", "deploy")
	checkErr(t, "PipelineDelete twice", err, store.ErrNotFound, "app", "deploy")

	deleted := *second
	deleted.Deleted = true
	got, err := s.PipelineGetByID(ctx, "p-1")
	if err != nil {
		t.Fatalf("PipelineGetByID after delete: %v", err)
	}
	check(t, "PipelineGetByID after delete", got, &deleted)
	revs, err := s.PipelineRevisionList(ctx, "p-1")
	if err != nil {
		t.Fatalf("PipelineRevisionList after delete: %v", err)
	}
	if len(revs) != 2 || !revs[0].Deleted {
		t.Errorf("PipelineRevisionList after delete: got %d revisions (deleted %v), want 2 kept", len(revs), len(revs) > 0 && revs[0].Deleted)
	}

	revived := mustSave(t, s, &store.PipelineSaveParams{ID: "new-id", Application: "app", Name: "deploy", Document: doc("app", "deploy", 3)})
	if revived.ID != "p-1" || revived.Revision != 3 || revived.Deleted {
		t.Errorf("save after delete: got ID %q revision %d deleted %v, want p-1, 3, false", revived.ID, revived.Revision, revived.Deleted)
	}
	got, err = s.PipelineGet(ctx, "app", "deploy")
	if err != nil {
		t.Fatalf("PipelineGet after revive: %v", err)
	}
	check(t, "PipelineGet after revive", got, revived)
}

func testPipelineSaveIDConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustSave(t, s, &store.PipelineSaveParams{ID: "dup", Application: "app", Name: "one", Document: doc("app", "one", 1)})
	_, err := s.PipelineSave(ctx, &store.PipelineSaveParams{ID: "dup", Application: "app", Name: "two", Document: doc("app", "two", 1)})
	checkErr(t, "PipelineSave with a taken ID", err, store.ErrConflict, "app/two")
	_, err = s.PipelineGet(ctx, "app", "two")
	checkErr(t, "PipelineGet after conflict", err, store.ErrNotFound)
}

func testPipelineSaveRejectsInvalidDocument(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, d := range []string{"", `{"application":`, "not json"} {
		_, err := s.PipelineSave(ctx, &store.PipelineSaveParams{Application: "app", Name: "bad", Document: json.RawMessage(d)})
		if err == nil {
			t.Errorf("PipelineSave(document %q): got nil error, want one", d)
		}
	}
	_, err := s.PipelineGet(ctx, "app", "bad")
	checkErr(t, "PipelineGet after rejected saves", err, store.ErrNotFound)
}

// testPipelineSaveConcurrent saves one pipeline from many goroutines: every
// save gets its own revision.
func testPipelineSaveConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, saves = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*saves)
	for w := range workers {
		wg.Go(func() {
			for i := range saves {
				_, err := s.PipelineSave(ctx, &store.PipelineSaveParams{Application: "app", Name: "busy", Document: doc("app", "busy", w*saves+i)})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent PipelineSave: %v", err)
	}
	p, err := s.PipelineGet(ctx, "app", "busy")
	if err != nil {
		t.Fatalf("PipelineGet: %v", err)
	}
	revs, err := s.PipelineRevisionList(ctx, p.ID)
	if err != nil {
		t.Fatalf("PipelineRevisionList: %v", err)
	}
	if p.Revision != workers*saves || len(revs) != workers*saves {
		t.Errorf("after %d saves: newest revision %d, %d revisions", workers*saves, p.Revision, len(revs))
	}
	for i, r := range revs {
		if r.Revision != workers*saves-i {
			t.Errorf("revision %d of the list is %d, want %d", i, r.Revision, workers*saves-i)
		}
	}
}
