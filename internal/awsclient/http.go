package awsclient

import (
	"bytes"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// bufferedBody is the local account's HTTP client. It hands the transport
// each request body as a plain in-memory reader. With aws-sdk-go-v2 v1.48 /
// smithy-go v1.28.9 the SDK's own body wrapper makes net/http drop the
// keep-alive connection on a few percent of requests (measured against the
// local Lambda); a plain reader keeps connections reused. Bodies of the
// control plane and of Invoke are small (at most 6 MB, or a 50 MB zip for
// CreateFunction), and the SDK has them in memory already.
type bufferedBody struct{ c aws.HTTPClient }

func (b bufferedBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return b.c.Do(r)
}
