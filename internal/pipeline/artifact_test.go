package pipeline

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestExpectedArtifactMatches(t *testing.T) {
	t.Parallel()
	e := ExpectedArtifact{ID: "code", MatchArtifact: Artifact{
		"type": "s3/object", "reference": `s3://builds/orders-.*\.zip`, "artifactAccount": "ignored",
	}}
	tests := []struct {
		name string
		a    Artifact
		want bool
	}{
		{"match", Artifact{"type": "s3/object", "reference": "s3://builds/orders-12.zip"}, true},
		{"account not compared", Artifact{"type": "s3/object", "reference": "s3://builds/orders-1.zip", "artifactAccount": "other"}, true},
		{"whole match, not substring", Artifact{"type": "s3/object", "reference": "s3://builds/orders-1.zip.bak"}, false},
		{"type differs", Artifact{"type": "http/file", "reference": "s3://builds/orders-1.zip"}, false},
		{"field missing", Artifact{"type": "s3/object"}, false},
		{"type regex prefix only", Artifact{"type": "s3/objectX", "reference": "s3://builds/orders-1.zip"}, false},
	}
	for _, tt := range tests {
		if got := e.Matches(tt.a); got != tt.want {
			t.Errorf("%s: Matches(%v) = %v, want %v", tt.name, tt.a, got, tt.want)
		}
	}
	empty := ExpectedArtifact{ID: "any"}
	if !empty.Matches(Artifact{"type": "x"}) {
		t.Error("an empty matchArtifact must match any artifact")
	}
}

func TestResolveArtifacts(t *testing.T) {
	t.Parallel()
	code := ExpectedArtifact{ID: "code", MatchArtifact: Artifact{"type": "s3/object", "name": "orders"}}
	s3a := Artifact{"type": "s3/object", "name": "orders", "reference": "s3://b/k1"}
	other := Artifact{"type": "embedded/base64", "name": "payload", "reference": "e30="}

	t.Run("received", func(t *testing.T) {
		res, err := ResolveArtifacts([]ExpectedArtifact{code}, nil, []Artifact{other, s3a}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Expected) != 1 || ArtifactString(res.Expected[0].BoundArtifact, "reference") != "s3://b/k1" {
			t.Fatalf("bound = %+v, want s3://b/k1", res.Expected)
		}
		if len(res.Artifacts) != 2 {
			t.Errorf("artifacts = %v, want the 2 received", res.Artifacts)
		}
	})
	t.Run("unmatched", func(t *testing.T) {
		_, err := ResolveArtifacts([]ExpectedArtifact{code}, nil, []Artifact{other}, nil)
		var ue *UnmatchedArtifactError
		if !errors.As(err, &ue) || ue.Expected.ID != "code" {
			t.Fatalf("err = %v, want an UnmatchedArtifactError naming code", err)
		}
		if !strings.Contains(err.Error(), `unmatched expected artifact "code"`) {
			t.Errorf("message %q does not name the artifact", err)
		}
	})
	t.Run("not among the trigger's ids", func(t *testing.T) {
		res, err := ResolveArtifacts([]ExpectedArtifact{code}, []string{"else"}, nil, nil)
		if err != nil || len(res.Expected) != 0 {
			t.Fatalf("got %+v, %v; an expected artifact the trigger does not expect is not resolved (Orca)", res, err)
		}
	})
	t.Run("ambiguous", func(t *testing.T) {
		s3b := Artifact{"type": "s3/object", "name": "orders", "reference": "s3://b/k2"}
		_, err := ResolveArtifacts([]ExpectedArtifact{code}, nil, []Artifact{s3a, s3b}, nil)
		var ae *AmbiguousArtifactError
		if !errors.As(err, &ae) || len(ae.Matches) != 2 {
			t.Fatalf("err = %v, want AmbiguousArtifactError with 2 matches", err)
		}
	})
	t.Run("default", func(t *testing.T) {
		d := code
		d.UseDefaultArtifact = true
		d.DefaultArtifact = Artifact{"type": "s3/object", "reference": "s3://b/default"}
		res, err := ResolveArtifacts([]ExpectedArtifact{d}, []string{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ArtifactString(res.Expected[0].BoundArtifact, "reference"); got != "s3://b/default" {
			t.Errorf("bound %q, want the default", got)
		}
		if len(res.Artifacts) != 1 {
			t.Errorf("artifacts = %v, want the default added", res.Artifacts)
		}
	})
	t.Run("prior before default", func(t *testing.T) {
		p := code
		p.UsePriorArtifact, p.UseDefaultArtifact = true, true
		p.DefaultArtifact = Artifact{"type": "s3/object", "reference": "s3://b/default"}
		calls := 0
		prior := func() ([]Artifact, error) { calls++; return []Artifact{other, s3a}, nil }
		res, err := ResolveArtifacts([]ExpectedArtifact{p, p}, nil, nil, prior)
		if err != nil {
			t.Fatal(err)
		}
		if got := ArtifactString(res.Expected[0].BoundArtifact, "reference"); got != "s3://b/k1" {
			t.Errorf("bound %q, want the prior s3://b/k1", got)
		}
		if calls != 1 {
			t.Errorf("prior read %d times, want once", calls)
		}
		if len(res.Artifacts) != 1 {
			t.Errorf("artifacts = %v, want the prior one once", res.Artifacts)
		}
	})
	t.Run("received before prior", func(t *testing.T) {
		p := code
		p.UsePriorArtifact = true
		res, err := ResolveArtifacts([]ExpectedArtifact{p}, nil, []Artifact{s3a}, func() ([]Artifact, error) {
			t.Error("prior read although a received artifact matches")
			return nil, nil
		})
		if err != nil || ArtifactString(res.Expected[0].BoundArtifact, "reference") != "s3://b/k1" {
			t.Fatalf("got %+v, %v", res, err)
		}
	})
	t.Run("prior error", func(t *testing.T) {
		p := code
		p.UsePriorArtifact = true
		_, err := ResolveArtifacts([]ExpectedArtifact{p}, nil, nil, func() ([]Artifact, error) { return nil, errors.New("boom") })
		if err == nil || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("err = %v, want the store's error", err)
		}
	})
}

func TestValidateExpectedArtifacts(t *testing.T) {
	t.Parallel()
	doc := `{"application":"a","name":"n","stages":[],"expectedArtifacts":[
		{"matchArtifact":{"type":"s3/object"}},
		{"id":"x","matchArtifact":{"reference":"s3://(bad"}},
		{"id":"x","useDefaultArtifact":true},
		{"id":"y","matchArtifact":{"name":3}}]}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	warns, err := p.Check(ValidateOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	want := []string{"expectedArtifacts[0].id", "expectedArtifacts[1].matchArtifact.reference", "expectedArtifacts[2].id", "expectedArtifacts[2].defaultArtifact", "expectedArtifacts[3].matchArtifact.name"}
	var got []string
	for _, pr := range ve.Problems {
		got = append(got, pr.Path)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("problems at %v, want %v (%v)", got, want, ve)
	}
	for _, w := range warns {
		if strings.HasPrefix(w.Path, "expectedArtifacts") {
			t.Errorf("warning %v: expectedArtifacts are acted on now", w)
		}
	}
}

// FuzzResolveArtifacts: reading expectedArtifacts and trigger artifacts
// never panics, and a resolution binds each expected artifact to an
// artifact it matches (or its default), in document order.
func FuzzResolveArtifacts(f *testing.F) {
	f.Add([]byte(`[{"id":"a","matchArtifact":{"type":"s3/.*","name":"x"}}]`), []byte(`[{"type":"s3/object","name":"x","reference":"s3://b/k"}]`))
	f.Add([]byte(`[{"id":"a","usePriorArtifact":true,"useDefaultArtifact":true,"defaultArtifact":{"type":"t"}}]`), []byte(`[]`))
	f.Add([]byte(`[{"id":"a","matchArtifact":{"reference":"(a+)+$"}},{"id":"b"}]`), []byte(`[{"type":"x","reference":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa!"}]`))
	f.Add([]byte(`[{"matchArtifact":{"name":"["}}, 3]`), []byte(`{"type":1}`))
	f.Fuzz(func(t *testing.T, expected, received []byte) {
		var ev, rv any
		if json.Unmarshal(expected, &ev) != nil || json.Unmarshal(received, &rv) != nil {
			return
		}
		p := &Pipeline{Extra: map[string]any{"expectedArtifacts": ev}}
		exp, problems := p.ExpectedArtifacts()
		arts, err := ParseArtifacts("artifacts", rv)
		if len(problems) > 0 || err != nil {
			return
		}
		prior := func() ([]Artifact, error) { return arts, nil }
		res, err := ResolveArtifacts(exp, nil, arts, prior)
		if err != nil {
			var ue *UnmatchedArtifactError
			var ae *AmbiguousArtifactError
			if !errors.As(err, &ue) && !errors.As(err, &ae) {
				t.Fatalf("ResolveArtifacts error %T %v, want Unmatched or Ambiguous", err, err)
			}
			return
		}
		if len(res.Expected) != len(exp) {
			t.Fatalf("%d resolved of %d expected, with no error", len(res.Expected), len(exp))
		}
		for i, e := range res.Expected {
			if e.ID != exp[i].ID {
				t.Fatalf("resolved[%d] is %q, want %q (document order)", i, e.ID, exp[i].ID)
			}
			if !e.Matches(e.BoundArtifact) && !(e.UseDefaultArtifact && reflect.DeepEqual(e.BoundArtifact, e.DefaultArtifact)) {
				t.Fatalf("%q bound to %v, which it does not match and is not its default", e.ID, e.BoundArtifact)
			}
		}
	})
}
