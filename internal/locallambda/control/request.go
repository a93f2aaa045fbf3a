package control

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"github.com/sluice-cd/sluice/internal/locallambda/restapi"
)

// The wire helpers of the control-plane operations: request bodies in,
// JSON out. Errors leave through the router (restapi), which renders them.

// maxRequestBody is AWS's limit on a control-plane request: a 50 MB zip,
// base64-encoded in JSON. Only CreateFunction and UpdateFunctionCode come
// near it, and their ZipFile goes to a file as it arrives
// (decodeCodeRequest).
const maxRequestBody = 69905067

// maxBufferedBody bounds every other request body, which is read into
// memory whole: far above what AWS's members add up to (a policy or a
// filter document is a few kilobytes), far below maxRequestBody.
const maxBufferedBody = 1 << 20

// decodeRequest reads a JSON request body into v. An empty body is {}.
func decodeRequest(r *http.Request, op string, v any) error {
	b, err := readBody(r, op)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// readBody reads a control-plane request body other than a code upload,
// refusing one larger than maxBufferedBody.
func readBody(r *http.Request, op string) ([]byte, error) {
	if r.ContentLength > maxBufferedBody {
		return nil, tooLarge(op, maxBufferedBody)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBufferedBody+1))
	if err != nil {
		return nil, fmt.Errorf("read the %s request: %w", op, err)
	}
	if len(b) > maxBufferedBody {
		return nil, tooLarge(op, maxBufferedBody)
	}
	return b, nil
}

func tooLarge(op string, limit int) error {
	return awserr.Errorf(http.StatusRequestEntityTooLarge, awserr.TypeRequestTooLarge,
		"Request must be smaller than %d bytes for the %s operation", limit, op)
}

// decodeCodeRequest reads a CreateFunction or UpdateFunctionCode request
// into v, its ZipFile (the string at path) decoded into a spool as it
// arrives (zipfile.go), so that the request never sits whole in memory.
// The spool is nil when the request has no ZipFile; the caller owns it.
func (cp *Plane) decodeCodeRequest(r *http.Request, op string, path []string, v any) (*spool, error) {
	if r.ContentLength > maxRequestBody {
		return nil, tooLarge(op, maxRequestBody)
	}
	body := &countingReader{r: io.LimitReader(r.Body, maxRequestBody+1)}
	var sp *spool
	split := &zipFileSplitter{in: bufio.NewReaderSize(body, 64<<10), path: path, zip: func() (io.Writer, error) {
		if sp != nil {
			return sp, sp.reset()
		}
		var err error
		sp, err = cp.newSpool()
		return sp, err
	}}
	err := split.split()
	var corrupt base64.CorruptInputError
	var syntax *jsonSyntaxError
	switch {
	case body.n > maxRequestBody:
		err = tooLarge(op, maxRequestBody)
	case errors.Is(err, errMembersTooLarge):
		err = awserr.Errorf(http.StatusRequestEntityTooLarge, awserr.TypeRequestTooLarge,
			"The members of the %s request other than ZipFile must be smaller than %d bytes", op, maxRequestMembers)
	case errors.As(err, &corrupt), errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		err = awserr.Errorf(http.StatusBadRequest, awserr.TypeInvalidRequestContent, "Could not parse request body into json: %v", err)
	case err != nil:
		err = fmt.Errorf("read the %s request: %w", op, err)
	default:
		err = decodeJSON(split.rest.Bytes(), v)
	}
	if err != nil {
		sp.abort()
		return nil, err
	}
	return sp, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// admit holds a request that has a body until the control plane's
// request memory (Config.RequestMemory) has room for what reading it may
// take: its length, and never more than maxBufferedBody — a ZipFile goes
// to disk. Waiting ends with the request's context.
func (cp *Plane) admit(h restapi.Handler) restapi.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			return h(w, r)
		}
		n := int64(maxBufferedBody)
		if r.ContentLength > 0 {
			n = min(n, r.ContentLength)
		}
		n = min(n, cp.cfg.RequestMemory)
		if err := cp.bodies.Acquire(r.Context(), n); err != nil {
			return fmt.Errorf("wait for memory to read the request: %w", err)
		}
		defer cp.bodies.Release(n)
		return h(w, r)
	}
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
