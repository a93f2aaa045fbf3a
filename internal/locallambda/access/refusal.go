package access

import (
	"fmt"
	"net/http"

	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Reason names the rule a request broke.
type Reason string

const (
	ReasonHost       Reason = "host"        // Host is not a loopback name
	ReasonBrowser    Reason = "browser"     // Origin, or Sec-Fetch-Site other than none
	ReasonUnsigned   Reason = "unsigned"    // no signature at all
	ReasonMalformed  Reason = "malformed"   // a signature that is not SigV4's shape
	ReasonUnknownKey Reason = "unknown-key" // signed with another access key than Credentials'
	ReasonSignature  Reason = "signature"   // the signature does not verify
	ReasonExpired    Reason = "expired"     // a presigned URL past its X-Amz-Expires
	ReasonTooLarge   Reason = "too-large"   // a body too large to hash for verification
	ReasonBody       Reason = "body"        // a body that could not be read for verification
)

// Refusal is a request the local Lambda does not serve, and why.
type Refusal struct {
	Reason  Reason
	Message string
}

func (f *Refusal) Error() string { return string(f.Reason) + ": " + f.Message }

func refuse(reason Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// answer is how AWS answers a refusal: the Lambda API's status and error
// type, and S3's status and error code.
type answer struct {
	lambdaStatus int
	lambdaType   string
	s3Status     int
	s3Code       string
}

var answers = map[Reason]answer{
	ReasonHost:       {http.StatusForbidden, awserr.TypeAccessDenied, http.StatusForbidden, "AccessDenied"},
	ReasonBrowser:    {http.StatusForbidden, awserr.TypeAccessDenied, http.StatusForbidden, "AccessDenied"},
	ReasonUnsigned:   {http.StatusForbidden, awserr.TypeMissingAuthenticationToken, http.StatusForbidden, "AccessDenied"},
	ReasonMalformed:  {http.StatusForbidden, awserr.TypeIncompleteSignature, http.StatusBadRequest, "AuthorizationHeaderMalformed"},
	ReasonUnknownKey: {http.StatusForbidden, awserr.TypeUnrecognizedClient, http.StatusForbidden, "InvalidAccessKeyId"},
	ReasonSignature:  {http.StatusForbidden, awserr.TypeInvalidSignature, http.StatusForbidden, "SignatureDoesNotMatch"},
	ReasonExpired:    {http.StatusForbidden, awserr.TypeInvalidSignature, http.StatusForbidden, "AccessDenied"},
	ReasonTooLarge:   {http.StatusRequestEntityTooLarge, awserr.TypeRequestTooLarge, http.StatusBadRequest, "EntityTooLarge"},
	ReasonBody:       {http.StatusBadRequest, awserr.TypeInvalidRequestContent, http.StatusBadRequest, "IncompleteBody"},
}

// Lambda is the refusal as the Lambda API answers it.
func (f *Refusal) Lambda() *awserr.Error {
	a := answers[f.Reason]
	return &awserr.Error{Status: a.lambdaStatus, Type: a.lambdaType, Message: f.Message}
}

// S3 is the refusal as S3 answers it: the status and the error code.
func (f *Refusal) S3() (status int, code string) {
	a := answers[f.Reason]
	return a.s3Status, a.s3Code
}
