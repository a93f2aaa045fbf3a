package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// The wire helpers of the control-plane operations: request bodies in,
// JSON out. Errors leave through the router (restapi), which renders them.

// maxRequestBody is AWS's limit on a control-plane request: a 50 MB zip,
// base64-encoded in JSON.
const maxRequestBody = 69905067

// decodeRequest reads a JSON request body into v. An empty body is {}.
func decodeRequest(r *http.Request, op string, v any) error {
	b, err := readBody(r, op)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// readBody reads a control-plane request body, refusing one larger than
// AWS accepts.
func readBody(r *http.Request, op string) ([]byte, error) {
	tooLarge := awserr.Errorf(http.StatusRequestEntityTooLarge, awserr.TypeRequestTooLarge,
		"Request must be smaller than %d bytes for the %s operation", maxRequestBody, op)
	if r.ContentLength > maxRequestBody {
		return nil, tooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the %s request: %w", op, err)
	}
	if len(b) > maxRequestBody {
		return nil, tooLarge
	}
	return b, nil
}

// decodeJSON decodes a request body; empty means {}. A body that is not
// the JSON the operation takes is InvalidRequestContentException.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		msg := err.Error()
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				msg = fmt.Sprintf("the request body must be a JSON object, not %s", te.Value)
			} else {
				msg = fmt.Sprintf("field %s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
			}
		}
		return awserr.Errorf(http.StatusBadRequest, awserr.TypeInvalidRequestContent, "Could not parse request body into json: %s", msg)
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int32", "int64", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return goKind
}

// respondJSON writes v as the JSON body of a success response.
func respondJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// respondRaw writes an already encoded JSON body.
func respondRaw(w http.ResponseWriter, status int, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

func respondEmpty(w http.ResponseWriter, status int) error {
	w.WriteHeader(status)
	return nil
}
