package sqs

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an SQS error as AWS sends it: the JSON protocol's error type
// (the shape name, sent as "__type"), the query protocol's code (also sent
// to JSON clients in X-Amzn-Query-Error, which aws-sdk-go-v2 reports as the
// error's code), the HTTP status and whether the sender is at fault.
type Error struct {
	Status int
	// Type is the JSON protocol's error shape, e.g. "QueueDoesNotExist".
	Type string
	// Code is the query protocol's code, e.g.
	// "AWS.SimpleQueueService.NonExistentQueue".
	Code    string
	Message string
	// Server marks an error that is AWS's fault (Type Receiver), not the
	// caller's (Sender).
	Server bool
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is lets errors.Is(err, ErrQueueDoesNotExist) match any missing-queue
// error, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// ErrQueueDoesNotExist matches (errors.Is) the error of an operation on a
// queue that does not exist.
var ErrQueueDoesNotExist = &Error{Status: http.StatusBadRequest, Type: "QueueDoesNotExist", Code: "AWS.SimpleQueueService.NonExistentQueue"}

func newError(typ, code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: typ, Code: code, Message: fmt.Sprintf(format, args...)}
}

func queueDoesNotExist() *Error {
	return newError("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

func invalidParameter(format string, args ...any) *Error {
	return newError("InvalidParameterValue", "InvalidParameterValue", format, args...)
}

// invalidValue is AWS's message for a parameter outside its range.
func invalidValue(value any, param, reason string) *Error {
	return invalidParameter("Value %v for parameter %s is invalid. Reason: %s", value, param, reason)
}

func missingParameter(name string) *Error {
	return newError("MissingParameter", "MissingParameter", "The request must contain the parameter %s.", name)
}

func invalidAttributeName(format string, args ...any) *Error {
	return newError("InvalidAttributeName", "InvalidAttributeName", format, args...)
}

func invalidAttributeValue(format string, args ...any) *Error {
	return newError("InvalidAttributeValue", "InvalidAttributeValue", format, args...)
}

func receiptHandleInvalid(h string) *Error {
	return newError("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle %q is not a valid receipt handle.", h)
}

func messageNotInflight() *Error {
	return newError("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "The message referred to is not in flight.")
}

func internalError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Type: "InternalError", Code: "InternalError", Server: true,
		Message: "The local SQS failed: " + err.Error()}
}

// asError turns any error into an *Error; one that is not is the local
// SQS's own failure.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return internalError(err)
}
