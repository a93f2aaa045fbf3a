package cloudfront

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/access"
)

// apiError is a CloudFront API error: the HTTP status and the error code
// aws-sdk-go-v2 maps to its typed errors (NoSuchDistribution,
// PreconditionFailed, InvalidLambdaFunctionAssociation, …).
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func noSuchDistribution(id string) *apiError {
	return errorf(http.StatusNotFound, "NoSuchDistribution", "The specified distribution does not exist: %s.", id)
}

func noSuchPolicy(id string) *apiError {
	return errorf(http.StatusNotFound, "NoSuchContinuousDeploymentPolicy", "The continuous deployment policy does not exist: %s.", id)
}

func missingIfMatch() *apiError {
	return errorf(http.StatusBadRequest, "InvalidIfMatchVersion",
		"The If-Match version is missing or not valid: send the ETag of the last Get…Config or Create/Update response in If-Match.")
}

func preconditionFailed(got, want string) *apiError {
	return errorf(http.StatusPreconditionFailed, "PreconditionFailed",
		"The precondition given in one or more of the request-header fields evaluated to false: If-Match %q is not the current ETag %q; get the configuration again and retry.", got, want)
}

func invalidArgument(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidArgument", format, args...)
}

func invalidAssociation(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, "InvalidLambdaFunctionAssociation", format, args...)
}

// errorBody is CloudFront's error document.
type errorBody struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

// writeError renders err as CloudFront does: an XML ErrorResponse with
// x-amz-request-id; anything but an *apiError is a 500 InternalError.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: "The local CloudFront could not complete the request: " + err.Error()}
	}
	who := "Sender"
	if ae.Status >= 500 {
		who = "Receiver"
	}
	id := uuid.NewString()
	var b bytes.Buffer
	b.WriteString(xml.Header)
	_ = xml.NewEncoder(&b).Encode(errorBody{Xmlns: namespace, Type: who, Code: ae.Code, Message: ae.Message, RequestID: id})
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("X-Amz-Request-Id", id)
	w.WriteHeader(ae.Status)
	_, _ = w.Write(b.Bytes())
}

// WriteRefusal renders package access's refusal of a CloudFront request
// in CloudFront's error envelope, with the status the Lambda API would
// use and the error code without Lambda's "Exception" suffix
// (AccessDenied, MissingAuthenticationToken, InvalidSignature, …).
func WriteRefusal(w http.ResponseWriter, _ *http.Request, f *access.Refusal) {
	le := f.Lambda()
	code := le.Type
	if c, ok := bytes.CutSuffix([]byte(code), []byte("Exception")); ok {
		code = string(c)
	}
	writeError(w, &apiError{Status: le.Status, Code: code, Message: f.Message})
}
