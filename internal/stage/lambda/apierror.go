package lambda

import (
	"errors"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// apiError turns an SDK error of op on f into a failure or a notYet.
// Conflicts (an update in progress), throttling after the SDK's retries,
// precondition failures (someone changed the function meanwhile; the task
// re-reads), service errors and unreachable endpoints are retried until
// the task's wait timeout; everything else fails with AWS's message.
func apiError(f *function, op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := strings.TrimSpace(ae.ErrorMessage())
		if msg == "" {
			msg = "(AWS sent no message)"
		}
		code := ae.ErrorCode()
		if (code == "ResourceConflictException" || code == "ConflictException") && strings.Contains(msg, "mapping already exists") {
			// An event source mapping of the same source on another target
			// does not go away by waiting; AWS's message names its UUID.
			return fail("%s of %s: %s: %s", op, f, code, msg)
		}
		switch code {
		case "ResourceConflictException", "ConflictException", "ResourceInUseException",
			"TooManyRequestsException", "ThrottlingException", "ServiceException",
			"PreconditionFailedException", "ResourceNotReadyException", "EC2ThrottledException":
			return retry("%s of %s: %s: %s", op, f, code, msg)
		case "ResourceNotFoundException":
			return fail("%s of %s: not found: %s", op, f, msg)
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "AccessDenied":
			return fail("%s of %s: AWS refused the credentials of account %s (%s: %s); check the account's profile or roleArn and its IAM permissions",
				op, f, f.acct.Name, code, msg)
		}
		return fail("%s of %s: %s: %s", op, f, code, msg)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) {
		return retry("%s of %s: cannot reach the Lambda endpoint of account %s: %v", op, f, f.acct.Name, err)
	}
	return fail("%s of %s: %v", op, f, err)
}

// isNotFound reports whether err is AWS's ResourceNotFoundException.
func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ResourceNotFoundException"
}

// isConflict reports whether err is a conflict that names aliases
// (AWS refuses to delete a version an alias references).
func isConflict(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "ResourceConflictException" || ae.ErrorCode() == "ConflictException") &&
		strings.Contains(strings.ToLower(ae.ErrorMessage()), "alias")
}

// isNoPCConfig reports AWS's "no provisioned concurrency configuration"
// (a ProvisionedConcurrencyConfigNotFoundException).
func isNoPCConfig(err error) bool {
	var nf *types.ProvisionedConcurrencyConfigNotFoundException
	return isNotFound(err) || errors.As(err, &nf)
}
