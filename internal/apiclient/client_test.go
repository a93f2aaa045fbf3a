package apiclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "http://127.0.0.1:8084", want: "http://127.0.0.1:8084"},
		{in: "127.0.0.1:8084", want: "http://127.0.0.1:8084"},
		{in: "https://sluice.example.com/prefix/", want: "https://sluice.example.com/prefix"},
		{in: "", wantErr: "no server URL"},
		{in: "ftp://host", wantErr: "scheme must be http or https"},
		{in: "http://", wantErr: "has no host"},
	}
	for _, tt := range tests {
		c, err := New(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c.BaseURL() != tt.want {
			t.Errorf("New(%q) = %v, %v; want %s", tt.in, c, err, tt.want)
		}
	}
}

func TestEndpointEscapesSegments(t *testing.T) {
	t.Parallel()
	c, err := New("http://h/base")
	if err != nil {
		t.Fatal(err)
	}
	got := c.endpoint(url.Values{"application": {"a b"}}, "pipelines", "my app", "deploy/prod")
	want := "http://h/base/api/v1/pipelines/my%20app/deploy%2Fprod?application=a+b"
	if got != want {
		t.Errorf("endpoint = %s, want %s", got, want)
	}
}

func TestErrorFromResponse(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/pipelines/a/b":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write([]byte(`{"error":{"code":"invalid_pipeline","message":"the pipeline is invalid: 2 problems",` +
				`"details":[{"path":"stages[0].refId","message":"missing"},{"path":"","message":"general"}]}}`))
		default:
			w.WriteHeader(502)
			w.Write([]byte("<html>bad gateway</html>"))
		}
	}))
	defer srv.Close()
	c, _ := New(srv.URL)

	_, err := c.GetPipeline(t.Context(), "a", "b")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T)", err, err)
	}
	if e.Status != 400 || e.Code != "invalid_pipeline" || len(e.Details) != 2 {
		t.Errorf("error = %+v", e)
	}
	if want := "the pipeline is invalid: 2 problems\n  stages[0].refId: missing\n  general"; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}

	_, err = c.GetPipeline(t.Context(), "x", "y")
	if !errors.As(err, &e) || e.Status != 502 || !strings.Contains(e.Message, "bad gateway") {
		t.Errorf("non-API error = %v", err)
	}
}

func TestReadStream(t *testing.T) {
	t.Parallel()
	stream := "retry: 2000\n\n" +
		": heartbeat\n\n" +
		"id: 4\ndata: {\"a\":1}\n\n" +
		"id: 5\ndata: line one\ndata: line two\n\n" +
		"data:no-space\n\n" +
		"id: 7\n\n" + // an id without data dispatches nothing
		"id: 8\ndata: unterminated"
	type ev struct {
		id   int64
		data string
	}
	var got []ev
	err := readStream(strings.NewReader(stream), func(id int64, data string) error {
		got = append(got, ev{id, data})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []ev{{4, `{"a":1}`}, {5, "line one\nline two"}, {5, "no-space"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %v, want %v", got, want)
	}
}

// TestErrorSaysEachProblemOnce: a lone problem the server put in its
// message as well as in its details is said once.
func TestErrorSaysEachProblemOnce(t *testing.T) {
	t.Parallel()
	e := &Error{Status: 400, Message: `the expression cannot be evaluated: unexpected "}"`,
		Details: []Detail{{Path: "expression", Message: `unexpected "}"`}}}
	if want := `the expression cannot be evaluated: unexpected "}"`; e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}
