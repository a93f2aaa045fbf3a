package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
)

func TestInlinePayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      any
		want    string
		wantErr string
	}{
		{map[string]any{"a": 1.0}, `{"a":1}`, ""},
		{[]any{"x"}, `["x"]`, ""},
		{`{"a": 1}`, `{"a": 1}`, ""},
		{`"quoted"`, `"quoted"`, ""},
		{`42`, `42`, ""},
		{"plain text", `"plain text"`, ""},
		{`{"a": 1`, "", "looks like JSON but is not valid JSON"},
		{` [1, `, "", "looks like JSON but is not valid JSON"},
		{true, `true`, ""},
	}
	for _, tc := range tests {
		got, err := inlinePayload(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("inlinePayload(%#v) = %s, %v; want error %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("inlinePayload(%#v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestReadArtifact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v       any
		want    *artifact
		wantErr string
	}{
		{"absent", nil, nil, ""},
		{"empty selector Deck writes", map[string]any{"account": "embedded-artifact"}, nil, ""},
		{"wrapped", map[string]any{"artifact": map[string]any{"type": "embedded/base64", "reference": "e30="}},
			&artifact{Type: "embedded/base64", Reference: "e30="}, ""},
		{"bare", map[string]any{"type": "http/file", "reference": "https://example.com/p.json"},
			&artifact{Type: "http/file", Reference: "https://example.com/p.json"}, ""},
		{"type from an s3 URL", map[string]any{"artifact": map[string]any{"reference": "s3://b/k/p.json", "version": "v1"}},
			&artifact{Type: "s3/object", Reference: "s3://b/k/p.json", Version: "v1"}, ""},
		{"not an object", "s3://b/k", nil, "payloadArtifact must be an object"},
		{"expected artifact id not bound", map[string]any{"id": "x-1"}, nil, `payloadArtifact.id "x-1" names no artifact bound in this execution`},
		{"expected artifact id", map[string]any{"id": "in", "account": "embedded-artifact", "artifact": nil},
			&artifact{Type: "embedded/base64", Reference: "e30=", Name: "in"}, ""},
		{"expected artifactId", map[string]any{"artifactId": "code"},
			&artifact{Type: "s3/object", Reference: "s3://b/code.zip", Version: "v7"}, ""},
		{"bound artifact checked", map[string]any{"id": "bad"}, nil, `payloadArtifact (expected artifact "bad").type "gcs/object" is not supported`},
		{"id not a string", map[string]any{"id": 3.0}, nil, "payloadArtifact.id must be the id of one of the pipeline's expectedArtifacts"},
		{"s3 version after #", map[string]any{"type": "s3/object", "reference": "s3://b/k.zip#v2"},
			&artifact{Type: "s3/object", Reference: "s3://b/k.zip", Version: "v2"}, ""},
		{"no reference", map[string]any{"artifact": map[string]any{"type": "embedded/base64"}}, nil, "payloadArtifact.artifact.reference is required"},
		{"no type", map[string]any{"artifact": map[string]any{"reference": "e30="}}, nil, "payloadArtifact.artifact.type is required"},
		{"bad s3 URL", map[string]any{"artifact": map[string]any{"type": "s3/object", "reference": "s3://bucket-only"}}, nil, "not an s3://bucket/key URL"},
		{"bad http URL", map[string]any{"artifact": map[string]any{"type": "http/file", "reference": "ftp://x/y"}}, nil, "must be an http:// or https:// URL"},
		{"unsupported type", map[string]any{"artifact": map[string]any{"type": "gitlab/file", "reference": "x"}}, nil, `type "gitlab/file" is not supported: use embedded/base64, http/file, s3/object or github/file`},
		{"github/file not a contents URL", map[string]any{"artifact": map[string]any{"type": "github/file", "reference": "https://github.com/o/r/blob/main/x"}}, nil, "must be a GitHub contents API URL"},
		{"reference not a string", map[string]any{"artifact": map[string]any{"type": "embedded/base64", "reference": 7.0}}, nil, "payloadArtifact.artifact.reference must be a string"},
	}
	bound := map[string]pipeline.Artifact{
		"in":   {"type": "embedded/base64", "reference": "e30=", "name": "in"},
		"code": {"type": "s3/object", "reference": "s3://b/code.zip#v7"},
		"bad":  {"type": "gcs/object", "reference": "gs://b/k"},
	}
	for _, tc := range tests {
		got, err := readArtifact("payloadArtifact", tc.v, bound)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	// Checking a document, before any execution binds artifacts, an id is
	// accepted as it is.
	got, err := readArtifact("codeArtifact", map[string]any{"artifactId": "later"}, nil)
	if err != nil || got == nil || got.expectedID != "later" {
		t.Errorf("readArtifact with nothing bound = %+v, %v; want the expected id kept", got, err)
	}
}

func TestArtifactContent(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte(`{"ok":true}`))
		case "/text":
			w.Write([]byte(`not json`))
		default:
			http.Error(w, "no such payload", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	f := fetcher{http: srv.Client(), github: srv.Client()}
	ctx := context.Background()

	for _, tc := range []struct {
		fields  map[string]any
		want    string
		wantErr string
	}{
		{map[string]any{"payloadArtifact": map[string]any{"reference": srv.URL + "/ok"}}, `{"ok":true}`, ""},
		{map[string]any{"payloadArtifact": map[string]any{"reference": srv.URL + "/missing"}}, "", "404 Not Found no such payload"},
		{map[string]any{"payloadArtifact": map[string]any{"reference": srv.URL + "/text"}}, "", "is not JSON, and Lambda accepts only a JSON payload"},
		{map[string]any{"payloadArtifact": map[string]any{"type": "embedded/base64", "reference": "eyJwaW5nIjp0cnVlfQ"}}, `{"ping":true}`, ""},
		{map[string]any{"payloadArtifact": map[string]any{"type": "s3/object", "reference": "s3://b/k"}}, "", "needs an S3 client"},
		{map[string]any{"payload": "hi", "payloadArtifact": map[string]any{"type": "embedded/base64", "reference": "eyJhIjoxfQ=="}}, `{"a":1}`, ""},
		{map[string]any{}, "", ""},
	} {
		var s invokeSpec
		stage.Validate(tc.fields, &s) // decodes; a missing functionName does not matter here
		got, err := f.invokePayload(ctx, &s.payloadFields, nil, nil)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("invokePayload(%v) = %s, %v; want error %q", tc.fields, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("invokePayload(%v) = %q, %v; want %q", tc.fields, got, err, tc.want)
		}
	}
}

// http/file reads only from loopback unless sluice.yaml lists hosts, and
// follows no redirect to a host it may not read.
func TestHTTPArtifactAllowedHosts(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			http.Redirect(w, r, "http://example.invalid/p.json", http.StatusFound)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	loopback := newFetcher(ArtifactOptions{})
	if b, err := loopback.httpGet(ctx, "payloadArtifact", srv.URL+"/p.json"); err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("loopback GET = %q, %v; want the body", b, err)
	}
	if _, err := loopback.httpGet(ctx, "payloadArtifact", "http://example.invalid/p.json"); err == nil ||
		!strings.Contains(err.Error(), "only loopback") || !strings.Contains(err.Error(), "artifacts.http.allowedHosts") {
		t.Errorf("GET of another host = %v, want the loopback-only refusal naming artifacts.http.allowedHosts", err)
	}
	if _, err := loopback.httpGet(ctx, "payloadArtifact", srv.URL+"/away"); err == nil || !strings.Contains(err.Error(), "example.invalid refused") {
		t.Errorf("GET redirected to another host = %v, want the redirect refused", err)
	}
	policy, err := egress.NewPolicy(HTTPSetting, []string{"artifacts.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	listed := newFetcher(ArtifactOptions{HTTP: policy})
	if _, err := listed.httpGet(ctx, "payloadArtifact", srv.URL+"/p.json"); err == nil || !strings.Contains(err.Error(), "loopback is not listed (artifacts.example.com)") {
		t.Errorf("GET of loopback with a list that does not name it = %v, want a refusal", err)
	}
}

// githubContents answers as GitHub's contents API does: the file's JSON
// with its content in base64, for a request with the token.
func githubContents(t testing.TB, token string, files map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "token "+token {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
			return
		}
		path, ok := strings.CutPrefix(r.URL.Path, "/repos/acme/orders/contents/")
		body, found := files[path+"@"+r.URL.Query().Get("ref")]
		if !ok || !found {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not Found"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"type": "file", "encoding": "base64", "name": path, "path": path,
			"content": base64.StdEncoding.EncodeToString([]byte(body)), "sha": "0000"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHubArtifact(t *testing.T) {
	t.Parallel()
	srv := githubContents(t, "s3cret", map[string]string{"event.json@v2": `{"from":"github"}`})
	ctx := context.Background()
	f := newFetcher(ArtifactOptions{GitHubToken: "s3cret", GitHubAPIURL: srv.URL})
	ref := srv.URL + "/repos/acme/orders/contents/event.json"
	b, err := f.artifactContent(ctx, "payloadArtifact", &artifact{Type: artifactGitHub, Reference: ref, Version: "v2"}, nil)
	if err != nil || string(b) != `{"from":"github"}` {
		t.Fatalf("github/file = %q, %v; want the file's content", b, err)
	}
	wrong := newFetcher(ArtifactOptions{GitHubToken: "wrong", GitHubAPIURL: srv.URL})
	if _, err := wrong.artifactContent(ctx, "payloadArtifact", &artifact{Type: artifactGitHub, Reference: ref, Version: "v2"}, nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("github/file with a wrong token = %v, want GitHub's 401", err)
	}
	other := newFetcher(ArtifactOptions{GitHubToken: "s3cret"})
	if _, err := other.artifactContent(ctx, "payloadArtifact", &artifact{Type: artifactGitHub, Reference: ref}, nil); err == nil || !strings.Contains(err.Error(), "artifacts.github.apiUrl") {
		t.Errorf("github/file outside the configured API = %v, want a refusal (the token goes only to the API)", err)
	}
}
