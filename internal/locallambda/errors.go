package locallambda

import (
	"encoding/json"
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
	errTypeInvalidParameterValue = "InvalidParameterValueException"
	errTypeResourceNotFound      = "ResourceNotFoundException"
	errTypeResourceConflict      = "ResourceConflictException"
	errTypeResourceInUse         = "ResourceInUseException"
	errTypePreconditionFailed    = "PreconditionFailedException"
	errTypeRequestTooLarge       = "RequestTooLargeException"
	errTypeTooManyRequests       = "TooManyRequestsException"
	errTypeService               = "ServiceException"
	errTypeValidation            = "ValidationException"
	errTypeUnknownOperation      = "UnknownOperationException"
)

// APIError is an error in AWS's wire form. Handlers of both halves of the
// local Lambda return it; writeError renders it as the service does, so
// aws-sdk-go-v2 resolves it to the modelled error type (errors.As works).
type APIError struct {
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

func (e *APIError) Error() string { return e.Type + ": " + e.Message }

// apiErrorf builds an *APIError with a formatted message.
func apiErrorf(status int, typ, format string, args ...any) *APIError {
	return &APIError{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

func invalidParameter(format string, args ...any) *APIError {
	return apiErrorf(http.StatusBadRequest, errTypeInvalidParameterValue, format, args...)
}

func resourceNotFound(format string, args ...any) *APIError {
	return apiErrorf(http.StatusNotFound, errTypeResourceNotFound, format, args...)
}

func resourceConflict(format string, args ...any) *APIError {
	return apiErrorf(http.StatusConflict, errTypeResourceConflict, format, args...)
}

// validationError is AWS's answer to a model-constraint violation; the
// message follows AWS's "1 validation error detected: Value 'x' at 'field'
// failed to satisfy constraint: …" form.
func validationError(value any, field, constraint string) *APIError {
	return apiErrorf(http.StatusBadRequest, errTypeValidation,
		"1 validation error detected: Value '%v' at '%s' failed to satisfy constraint: %s", value, field, constraint)
}

// preconditionFailed is the answer to a stale RevisionId.
func preconditionFailed() *APIError {
	return apiErrorf(http.StatusPreconditionFailed, errTypePreconditionFailed,
		"The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
}

// errorBody is the JSON body AWS sends with an error. aws-sdk-go-v2 reads the
// type from the X-Amzn-ErrorType header first and "__type" second, and the
// message from "message" (case-insensitively).
type errorBody struct {
	Type      string `json:"Type"`
	Message   string `json:"message"`
	ErrorType string `json:"__type"`
	Reason    string `json:"Reason,omitempty"`
}

// writeError renders err as an AWS error response: an *APIError with its own
// status and type, anything else as a 500 ServiceException.
func writeError(w http.ResponseWriter, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = &APIError{Status: http.StatusInternalServerError, Type: errTypeService,
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
	body, _ := json.Marshal(errorBody{Type: who, Message: ae.Message, ErrorType: ae.Type, Reason: ae.Reason})
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
