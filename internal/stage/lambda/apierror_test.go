package lambda

import (
	"errors"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/sluice-cd/sluice/internal/awsclient"
)

// TestAPIErrorConflicts: a conflict with an update in progress passes by
// waiting; an event source mapping in the way does not.
func TestAPIErrorConflicts(t *testing.T) {
	f := &function{acct: &awsclient.Account{Name: "local"}, name: "fn"}
	cases := []struct {
		msg       string
		permanent bool
	}{
		{"The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:000000000000:function:fn", false},
		{"The event source arn (arn:aws:sqs:us-east-1:000000000000:q) and function (fn) provided mapping already exists. Please update or delete the existing mapping with UUID 1234", true},
	}
	for _, c := range cases {
		err := apiError(f, "create", &smithy.GenericAPIError{Code: "ResourceConflictException", Message: c.msg})
		var ny *notYet
		var fl *failure
		switch {
		case c.permanent && !errors.As(err, &fl):
			t.Errorf("%q: %T %v; want a failure", c.msg, err, err)
		case !c.permanent && !errors.As(err, &ny):
			t.Errorf("%q: %T %v; want a retry", c.msg, err, err)
		}
	}
}
