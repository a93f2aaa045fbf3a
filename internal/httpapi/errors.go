package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/store"
)

// Error is an error whose message a client may see. Handlers return it for
// problems with the request; writeError also derives one from the sentinel
// and typed errors of the store, the engine and the pipeline package. Any
// other error is internal: the client sees only "internal error" and the
// request ID, and the log gets the rest.
type Error struct {
	Status  int
	Code    string // one of the apitype.Code… values
	Message string
	Details []apitype.ErrorDetail
	Err     error // the cause, for the log; may be nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// badRequest returns a 400 whose message says what is wrong with the request.
func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: apitype.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// notFound returns a 404 naming what was not found.
func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Code: apitype.CodeNotFound, Message: fmt.Sprintf(format, args...)}
}

// orNotFound turns store.ErrNotFound into a 404 with the given message and
// passes any other error through.
func orNotFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		e := notFound(format, args...)
		e.Err = err
		return e
	}
	return err
}

// validationDetails converts a pipeline validation error to wire details.
func validationDetails(ve *pipeline.ValidationError) []apitype.ErrorDetail {
	details := make([]apitype.ErrorDetail, 0, len(ve.Problems))
	for _, p := range ve.Problems {
		details = append(details, apitype.ErrorDetail{Path: p.Path, Message: p.Msg})
	}
	return details
}

// publicError classifies err into the status, code and message a client
// sees. ok is false for internal errors.
func publicError(err error) (e *Error, ok bool) {
	var he *Error
	if errors.As(err, &he) {
		return he, true
	}
	var ve *pipeline.ValidationError
	if errors.As(err, &ve) {
		return &Error{
			Status:  http.StatusBadRequest,
			Code:    apitype.CodeInvalidPipeline,
			Message: problemsMessage("the pipeline is invalid", len(ve.Problems)),
			Details: validationDetails(ve),
			Err:     err,
		}, true
	}
	var mbe *http.MaxBytesError
	var conflict *engine.ConflictError
	switch {
	case errors.As(err, &mbe):
		return &Error{
			Status:  http.StatusRequestEntityTooLarge,
			Code:    apitype.CodeTooLarge,
			Message: fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit),
			Err:     err,
		}, true
	case errors.Is(err, store.ErrNotFound):
		// Handlers name the missing thing with orNotFound; this is the
		// fallback for errors they pass through.
		return &Error{Status: http.StatusNotFound, Code: apitype.CodeNotFound, Message: err.Error(), Err: err}, true
	case errors.As(err, &conflict):
		// The engine's conflict messages say what state the execution or
		// stage is in and what is allowed; they are written for users.
		return &Error{Status: http.StatusConflict, Code: apitype.CodeConflict, Message: conflict.Msg, Err: err}, true
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: apitype.CodeConflict, Message: err.Error(), Err: err}, true
	}
	return nil, false
}

// problemsMessage is "what: 1 problem" or "what: 3 problems".
func problemsMessage(what string, n int) string {
	if n == 1 {
		return what + ": 1 problem"
	}
	return fmt.Sprintf("%s: %d problems", what, n)
}

// writeError is the one place an error becomes a response.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	reqID := requestID(ctx)
	e, ok := publicError(err)
	if !ok {
		if ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
			// The client went away; nobody reads the response.
			s.log.DebugContext(ctx, "request canceled", "request_id", reqID, "method", r.Method, "path", r.URL.Path)
			return
		}
		s.log.ErrorContext(ctx, "internal error", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "err", err)
		e = &Error{
			Status:  http.StatusInternalServerError,
			Code:    apitype.CodeInternal,
			Message: "internal error; the server log has the details under request id " + reqID,
		}
	} else if e.Status >= 500 {
		s.log.ErrorContext(ctx, "request failed", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", err)
	} else {
		s.log.DebugContext(ctx, "request rejected", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", err)
	}
	body := apitype.ErrorBody{Error: apitype.Error{Code: e.Code, Message: e.Message, Details: e.Details}}
	if e.Status >= 500 {
		body.Error.RequestID = reqID
	}
	writeJSON(w, e.Status, body)
}

// logger used when Config.Logger is nil.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
