package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/sluice-cd/sluice/internal/apitype"
)

// readBody reads the whole body, at most limit bytes. A larger body gives
// an error that writeError maps to 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, badRequest("read the request body: %v", err)
	}
	return data, nil
}

// mediaType returns the request's media type, lowercased, without
// parameters; "" when there is no Content-Type.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", &Error{
			Status:  http.StatusUnsupportedMediaType,
			Code:    apitype.CodeUnsupportedMediaType,
			Message: fmt.Sprintf("cannot parse Content-Type %q: %v", ct, err),
		}
	}
	return mt, nil
}

// requireJSON rejects a request whose Content-Type is set and is not JSON.
func requireJSON(r *http.Request) error {
	mt, err := mediaType(r)
	if err != nil {
		return err
	}
	if mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return nil
	}
	return &Error{
		Status:  http.StatusUnsupportedMediaType,
		Code:    apitype.CodeUnsupportedMediaType,
		Message: fmt.Sprintf("this route takes a JSON body (Content-Type: application/json), not %s", mt),
	}
}

// documentMediaTypes are the Content-Types a pipeline document may come
// with. The parser sniffs JSON or YAML from the bytes, so the type only
// keeps out bodies that are clearly something else.
// (None and text/plain, which a web page may send across sites, never get
// here: checkRequest refuses them on every state-changing request.)
var documentMediaTypes = map[string]bool{
	"application/json":         true,
	"application/yaml":         true,
	"application/x-yaml":       true,
	"text/yaml":                true,
	"text/x-yaml":              true,
	"application/octet-stream": true,
}

// requireDocument rejects a Content-Type that cannot carry a pipeline
// document.
func requireDocument(r *http.Request) error {
	mt, err := mediaType(r)
	if err != nil {
		return err
	}
	if documentMediaTypes[mt] || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+yaml") {
		return nil
	}
	return &Error{
		Status:  http.StatusUnsupportedMediaType,
		Code:    apitype.CodeUnsupportedMediaType,
		Message: fmt.Sprintf("a pipeline document is JSON (application/json) or YAML (application/yaml), not %s", mt),
	}
}

// decodeJSONBody reads a JSON request body into v. An empty body leaves v
// as it is, so every request body is optional unless the handler checks.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	data, err := readBody(w, r, maxRequestBytes)
	if err != nil {
		return err
	}
	return decodeJSON(data, v)
}

// decodeJSON decodes data into v strictly: unknown fields, wrong types and
// trailing data are errors whose message says what to change. Empty data
// (or only whitespace) leaves v unchanged.
func decodeJSON(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return badRequest("%s", describeJSONError(err, v))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("the request body has data after the JSON object; send exactly one object")
	}
	return nil
}

// describeJSONError turns an encoding/json error into a message a user can
// act on.
func describeJSONError(err error, v any) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("the request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("the request body must be a JSON object, not %s", typ.Value)
		}
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonKind(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the request body is truncated JSON"
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Sprintf("unknown field %s; the body takes %s", name, strings.Join(jsonFields(v), ", "))
	}
	return "the request body is not valid JSON: " + err.Error()
}

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Float32, reflect.Uint, reflect.Uint64:
		return "a number"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "a " + t.String()
}

// jsonFields lists the JSON field names of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}
