package awserr

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWriteMapsUnknownErrorsToServiceException(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, errors.New("disk full"))
	if rec.Code != 500 || rec.Header().Get("X-Amzn-ErrorType") != "ServiceException" {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("X-Amzn-ErrorType"))
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["Type"] != "Service" || !strings.Contains(body["message"], "disk full") {
		t.Fatalf("body %q (%v)", rec.Body.Bytes(), err)
	}
	rec = httptest.NewRecorder()
	Write(rec, &Error{Status: 429, Type: TypeTooManyRequests, Message: "Rate Exceeded.", Reason: "ReservedFunctionConcurrentInvocationLimitExceeded", RetryAfter: "1"})
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), `"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded"`) {
		t.Fatalf("throttle: %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
}
