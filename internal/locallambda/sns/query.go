package sns

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// The query protocol, as aws-sdk-go-v2's sns client (awsquery) and the
// AWS CLI send it: a form (Action=…&Version=2010-03-31&…), in a POST body
// or a GET query, answered with XML in the 2010-03-31 namespace.

const xmlns = "http://sns.amazonaws.com/doc/2010-03-31/"

// apiError is an SNS error: its code, HTTP status and message.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func invalidParameter(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameter", Message: "Invalid parameter: " + fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf(format, args...)}
}

func validationError(field string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "ValidationError",
		Message: fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)}
}

// params are a request's form values.
type params url.Values

func (p params) get(name string) string { return url.Values(p).Get(name) }

func (p params) has(name string) bool { _, ok := p[name]; return ok }

// required returns a parameter that must be there.
func (p params) required(name string) (string, error) {
	if !p.has(name) {
		return "", validationError(strings.ToLower(name[:1]) + name[1:])
	}
	return p.get(name), nil
}

// entries reads a query-protocol map: PREFIX.entry.N.KEY and
// PREFIX.entry.N.VALUE, N counting from 1.
func (p params) entries(prefix, key, value string) map[string]string {
	out := map[string]string{}
	for _, n := range p.indexes(prefix + ".entry.") {
		base := prefix + ".entry." + strconv.Itoa(n) + "."
		if k := p.get(base + key); k != "" {
			out[k] = p.get(base + value)
		}
	}
	return out
}

// tags reads a query-protocol tag list: Tags.member.N.Key and
// Tags.member.N.Value.
func (p params) tags() map[string]string {
	out := map[string]string{}
	for _, n := range p.indexes("Tags.member.") {
		base := "Tags.member." + strconv.Itoa(n) + "."
		out[p.get(base+"Key")] = p.get(base + "Value")
	}
	return out
}

// indexes lists the N of every PREFIX.N.… parameter, in order.
func (p params) indexes(prefix string) []int {
	seen := map[int]bool{}
	for k := range p {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(num); err == nil && n > 0 {
			seen[n] = true
		}
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// sub returns the parameters under PREFIX. with the prefix removed.
func (p params) sub(prefix string) params {
	out := params{}
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// writeResult answers op with result as its OpResult element (nil: empty).
func writeResult(w http.ResponseWriter, op, requestID string, result any) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	start := xml.StartElement{Name: xml.Name{Local: op + "Response"}, Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: xmlns}}}
	_ = enc.EncodeToken(start)
	if result != nil {
		_ = enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: op + "Result"}})
	}
	_ = enc.EncodeElement(struct {
		RequestID string `xml:"RequestId"`
	}{requestID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.EncodeToken(start.End())
	_ = enc.Flush()
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// WriteError answers with SNS's XML error envelope. The server uses it
// for the refusals of package access as well.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	requestID := uuid.NewString()
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	_ = xml.NewEncoder(&b).Encode(struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Xmlns   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestID string `xml:"RequestId"`
	}{Xmlns: xmlns, Error: struct {
		Type    string
		Code    string
		Message string
	}{typ, code, message}, RequestID: requestID})
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// xmlAttributes is a query-protocol map in a result:
// <entry><key>K</key><value>V</value></entry>…
type xmlAttributes map[string]string

func (m xmlAttributes) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if err := e.EncodeElement(struct {
			Key   string `xml:"key"`
			Value string `xml:"value"`
		}{k, m[k]}, xml.StartElement{Name: xml.Name{Local: "entry"}}); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}
