// Package access decides which requests the local Lambda serves, before
// any of them is routed. The local Lambda runs code as the user who
// started it, so what reaches it must be an AWS client on this machine —
// never a web page, which any site the user visits can make the browser
// send to 127.0.0.1: a text/plain POST of CreateFunction and then Invoke
// from another origin was enough to run a shell script as the user.
//
// It owns that decision and the AWS error each refusal is answered with;
// it must not route, and knows nothing of functions or objects. The
// server renders a *Refusal in the envelope of the service the request
// was for (a Lambda JSON error with X-Amzn-ErrorType, or S3's XML error).
// It keeps no mutable state.
//
// # Rules, in order
//
//  1. Host must be a loopback name with any port: 127.0.0.1 (or another
//     127.x.y.z), [::1] or localhost. A page whose host name its author
//     points at 127.0.0.1 (DNS rebinding) is same-origin with itself and
//     could read every answer; its requests carry that name in Host.
//  2. No browser: a request with an Origin header (any value), or with a
//     Sec-Fetch-Site header other than "none", is refused. Browsers send
//     Sec-Fetch-Site on every request (Chromium since 76, Firefox since
//     90, Safari since 16.4) and Origin on every cross-origin request and
//     every POST, PUT or DELETE; the AWS SDKs and the AWS CLI send
//     neither. "none" is what a browser sends when the user typed the
//     address, which is the user and not a page. "same-origin" is refused
//     too: a page served by this endpoint (an HTML object of its S3,
//     opened through a presigned URL) must not drive it either.
//  3. The Lambda API, S3 and the other services on the endpoint (SQS,
//     routed by ScopeService, the service of the signature's credential
//     scope) need an AWS Signature Version 4: an
//     Authorization header "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/
//     SERVICE/aws4_request, SignedHeaders=…, Signature=…", or, for S3
//     only, the query parameters of a presigned URL (X-Amz-Algorithm=
//     AWS4-HMAC-SHA256, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
//     X-Amz-SignedHeaders, X-Amz-Signature). Signature Version 2 is not
//     taken, in a header or in a presigned URL (AWS CLI v1's `aws s3
//     presign` makes those unless s3.signature_version is s3v4; the
//     refusal says so). Every SDK and the AWS CLI sign every request, with
//     whatever credentials they find. A page cannot: a cross-origin
//     request that sets Authorization needs a CORS preflight, which
//     carries Origin (rule 2), and a form or a "simple" fetch cannot set
//     it. That is also why Content-Type is not checked: rule 3 refuses
//     the text/plain POST whatever its type, and SDKs send several types
//     (Invoke's payload is application/octet-stream, or none).
//  4. With Config.Credentials, the signature must also verify: it is
//     computed again with aws-sdk-go-v2's SigV4 signer over the request as
//     received — method, path, query, the headers it names, and the
//     payload hash: for Lambda the SHA-256 of the body (read, and put back
//     for the handler: in memory up to 1 MiB, beyond that in a file of
//     Config.TempDir, so that a ZipFile upload is never whole in memory),
//     for S3 the X-Amz-Content-Sha256 header the SDKs
//     send (UNSIGNED-PAYLOAD for a presigned URL without it). An unknown
//     access key, a wrong signature and an expired presigned URL are
//     refused as AWS refuses them. Without Credentials any well-formed
//     signature is accepted, whatever its key: the local account signs
//     with "sluice-local", the tests with anything, and the README's
//     AWS CLI example with x/x.
//
// The local Lambda's own read-only resources need no signature: the
// paths under /_locallambda/ (the code packages GetFunction's
// Code.Location points at, and the metrics query that Sluice's Functions
// API and `sluice demo` read) and GET /metrics (Prometheus). Rules 1 and 2
// still hold, so no page can read them, while curl, Prometheus and
// Sluice's own server read them as before; they change nothing and run
// nothing. With Credentials they remain readable by any local process
// that is not a browser, function code included.
//
// # What the signature check does not do
//
// It proves that the client holds the secret; it is not all of AWS's
// checks. It does not refuse an old signature (AWS allows 15 minutes of
// clock skew) or a replayed one. It does not hash S3 bodies against
// X-Amz-Content-Sha256 (S3's XAmzContentSHA256Mismatch) nor verify the
// chunk signatures of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload: the
// signature covers the declared hash, not the bytes. It takes the
// scope's region and service as signed, without comparing them with the
// endpoint's. And the headers aws-sdk-go-v2's signer never signs
// (User-Agent, Expect, Transfer-Encoding, X-Amzn-Trace-Id) cannot be
// verified: a client that signs one is refused. None of the AWS SDKs or
// the AWS CLI does.
package access
