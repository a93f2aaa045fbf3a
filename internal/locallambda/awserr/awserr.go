// Package awserr owns the AWS error envelope of the local Lambda: the
// error shapes the Lambda service model declares (and the few it does not,
// such as ValidationException), and how an error travels on the wire — the
// HTTP status, the X-Amzn-ErrorType header and the JSON body — so that
// aws-sdk-go-v2 resolves it to its typed error (errors.As finds
// *types.ResourceNotFoundException and the rest) and the AWS CLI prints
// its code. WriteS3 writes S3's XML envelope, for the S3 requests the
// local Lambda refuses before they reach gofakes3 (which renders every
// other S3 error).
//
// Both halves of the local Lambda return *Error values and render them
// with Write. The package must not know about functions, routes or
// processes: it only shapes errors, and it keeps no state.
package awserr

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
)

// Error shape names as the Lambda service model spells them. aws-sdk-go-v2
// turns each into its typed error (*types.ResourceNotFoundException, …).
// ValidationException is not modelled by Lambda, but it is what AWS answers
// for model-constraint violations (a pattern, a range, an enum); the SDK
// surfaces it as a smithy.GenericAPIError with that code.
const (
	TypeInvalidParameterValue = "InvalidParameterValueException"
	TypeInvalidRequestContent = "InvalidRequestContentException"
	TypeResourceNotFound      = "ResourceNotFoundException"
	TypeResourceConflict      = "ResourceConflictException"
	TypeResourceInUse         = "ResourceInUseException"
	TypePreconditionFailed    = "PreconditionFailedException"
	TypeRequestTooLarge       = "RequestTooLargeException"
	TypeTooManyRequests       = "TooManyRequestsException"
	TypeService               = "ServiceException"
	TypeValidation            = "ValidationException"
	TypeUnknownOperation      = "UnknownOperationException"

	// The answers of AWS's front door, before any operation runs: a
	// request that is not signed, whose signature is malformed, signed
	// with an unknown access key or wrongly, or that is refused outright.
	TypeMissingAuthenticationToken = "MissingAuthenticationTokenException"
	TypeIncompleteSignature        = "IncompleteSignatureException"
	TypeUnrecognizedClient         = "UnrecognizedClientException"
	TypeInvalidSignature           = "InvalidSignatureException"
	TypeAccessDenied               = "AccessDeniedException"
)

// Error is an error in AWS's wire form; Write renders it as the service
// does.
type Error struct {
	// Status is the HTTP status code the model gives the error shape.
	Status int
	// Type is the error shape name, e.g. "ResourceNotFoundException". It is
	// sent as the X-Amzn-ErrorType header and the body's "__type".
	Type string
	// Message says what went wrong and what to fix.
	Message string
	// Reason is TooManyRequestsException's Reason member, if any.
	Reason string
	// RetryAfter is sent as the Retry-After header (seconds), if set.
	RetryAfter string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Errorf builds an *Error with a formatted message.
func Errorf(status int, typ, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// InvalidParameter is a 400 InvalidParameterValueException: a service
// rule refused a value, or the local Lambda cannot do what was asked.
func InvalidParameter(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, TypeInvalidParameterValue, format, args...)
}

// ResourceNotFound is a 404 ResourceNotFoundException.
func ResourceNotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, TypeResourceNotFound, format, args...)
}

// ResourceConflict is a 409 ResourceConflictException.
func ResourceConflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, TypeResourceConflict, format, args...)
}

// Validation is AWS's answer to a model-constraint violation; the message
// follows AWS's "1 validation error detected: Value 'x' at 'field' failed
// to satisfy constraint: …" form.
func Validation(value any, field, constraint string) *Error {
	return Errorf(http.StatusBadRequest, TypeValidation,
		"1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, field, constraint)
}

// PreconditionFailed is the answer to a stale RevisionId.
func PreconditionFailed() *Error {
	return Errorf(http.StatusPreconditionFailed, TypePreconditionFailed,
		"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

// body is the JSON body AWS sends with an error. aws-sdk-go-v2 reads the
// type from the X-Amzn-ErrorType header first and "__type" second, and the
// message from "message" (case-insensitively).
type body struct {
	Type      string `json:"Type"`
	Message   string `json:"message"`
	ErrorType string `json:"__type"`
	Reason    string `json:"Reason,omitempty"`
}

// Write renders err as an AWS error response: an *Error with its own
// status and type, anything else as a 500 ServiceException.
func Write(w http.ResponseWriter, err error) {
	var ae *Error
	if !errors.As(err, &ae) {
		ae = &Error{Status: http.StatusInternalServerError, Type: TypeService,
			Message: "The local Lambda could not complete the request: " + err.Error()}
	}
	status := ae.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	who := "User"
	if status >= 500 {
		who = "Service"
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", ae.Type)
	if ae.RetryAfter != "" {
		h.Set("Retry-After", ae.RetryAfter)
	}
	b, _ := json.Marshal(body{Type: who, Message: ae.Message, ErrorType: ae.Type, Reason: ae.Reason})
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// s3Error is S3's error body.
type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string
	Message string
}

// WriteS3 renders an S3 error response: the status, and S3's XML body
// with code (AccessDenied, SignatureDoesNotMatch, …) and message, which
// aws-sdk-go-v2 and the AWS CLI report as the error's code and message. A
// HEAD response has no body, as on S3.
func WriteS3(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	b, _ := xml.MarshalIndent(s3Error{Code: code, Message: message}, "", "  ")
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}
