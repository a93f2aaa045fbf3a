package awsclient

import (
	"bytes"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// LocalHTTPClient is the HTTP client of the local account's SDK clients:
// it keeps up to idleConns connections to the local Lambda open for reuse
// and hands the transport request bodies as plain in-memory readers (see
// bufferedBody). `sluice bench local` measures through it, so its figures
// are what the local account's stages get.
func LocalHTTPClient(idleConns int) aws.HTTPClient {
	return bufferedBody{c: awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = idleConns
		tr.MaxIdleConnsPerHost = idleConns
	})}
}

// bufferedBody hands the transport each request body as a plain in-memory
// reader. With aws-sdk-go-v2 v1.48 / smithy-go v1.28.9 the SDK's own body
// wrapper makes net/http drop the keep-alive connection on a few percent of
// requests (measured against the local Lambda); a plain reader keeps
// connections reused, and lets the transport write headers and body in one
// segment. Bodies of the control plane and of Invoke are small (at most
// 6 MB, or a 50 MB zip for CreateFunction), and the SDK has them in memory
// already; they are read into one buffer of their Content-Length.
type bufferedBody struct{ c aws.HTTPClient }

func (b bufferedBody) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		buf := bytes.NewBuffer(make([]byte, 0, max(r.ContentLength, 0)+bytes.MinRead))
		_, err := buf.ReadFrom(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body := buf.Bytes()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	return b.c.Do(r)
}
