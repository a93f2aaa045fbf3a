// Command edgefn is the Lambda@Edge function the local CloudFront's tests
// run: one aws-lambda-go binary whose behaviour the function's Handler
// (_HANDLER) picks. It reads and returns CloudFront's event shapes.
//
//	viewer-rewrite   viewer-request: rewrites x-greeting to "<value>, rewritten by vN"
//	                 and adds x-viewer-version: N
//	origin-add       origin-response: adds x-origin-response: added by vN
//	viewer-add       viewer-response: adds x-viewer-response: vN and tries status 299
//	echo-body        origin-request: puts the body it was given in x-body
//	                 (decoded) and x-body-truncated
//	generate         request event: generates a 200 response whose body has
//	                 the querystring's size=N bytes
//	readonly         viewer-request: changes the read-only Host header
//	sleep            any event: sleeps the querystring's ms=N milliseconds
//	fail             any event: returns an error
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type header struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value"`
}

type request struct {
	ClientIP    string              `json:"clientIp"`
	Headers     map[string][]header `json:"headers"`
	Method      string              `json:"method"`
	Querystring string              `json:"querystring"`
	URI         string              `json:"uri"`
	Origin      map[string]any      `json:"origin,omitempty"`
	Body        *struct {
		InputTruncated bool   `json:"inputTruncated"`
		Action         string `json:"action"`
		Encoding       string `json:"encoding"`
		Data           string `json:"data"`
	} `json:"body,omitempty"`
}

type response struct {
	Status            string              `json:"status"`
	StatusDescription string              `json:"statusDescription,omitempty"`
	Headers           map[string][]header `json:"headers"`
	Body              string              `json:"body,omitempty"`
	BodyEncoding      string              `json:"bodyEncoding,omitempty"`
}

type event struct {
	Records []struct {
		CF struct {
			Config struct {
				DistributionDomainName string `json:"distributionDomainName"`
				DistributionID         string `json:"distributionId"`
				EventType              string `json:"eventType"`
				RequestID              string `json:"requestId"`
			} `json:"config"`
			Request  request   `json:"request"`
			Response *response `json:"response,omitempty"`
		} `json:"cf"`
	} `json:"Records"`
}

func main() {
	handler := os.Getenv("_HANDLER")
	version := os.Getenv("AWS_LAMBDA_FUNCTION_VERSION")
	lambda.Start(func(ctx context.Context, ev event) (any, error) {
		return handle(handler, version, ev)
	})
}

func handle(handler, version string, ev event) (any, error) {
	cf := ev.Records[0].CF
	req, res := cf.Request, cf.Response
	q, _ := url.ParseQuery(req.Querystring)
	switch handler {
	case "viewer-rewrite":
		greeting := "hello"
		if h := req.Headers["x-greeting"]; len(h) > 0 {
			greeting = h[0].Value
		}
		req.Headers["x-greeting"] = []header{{Key: "X-Greeting", Value: greeting + ", rewritten by v" + version}}
		req.Headers["x-viewer-version"] = []header{{Key: "X-Viewer-Version", Value: version}}
		req.Headers["x-seen-event"] = []header{{Key: "X-Seen-Event", Value: cf.Config.EventType + " " + cf.Config.DistributionID + " " + req.ClientIP}}
		return req, nil
	case "origin-add":
		res.Headers["x-origin-response"] = []header{{Key: "X-Origin-Response", Value: "added by v" + version}}
		return res, nil
	case "viewer-add":
		res.Headers["x-viewer-response"] = []header{{Key: "X-Viewer-Response", Value: "v" + version}}
		res.Status = "299"
		return res, nil
	case "echo-body":
		if req.Body == nil {
			req.Headers["x-body"] = []header{{Key: "X-Body", Value: "<none>"}}
			return req, nil
		}
		data, err := base64.StdEncoding.DecodeString(req.Body.Data)
		if err != nil {
			return nil, err
		}
		req.Headers["x-body-length"] = []header{{Key: "X-Body-Length", Value: strconv.Itoa(len(data))}}
		req.Headers["x-body-truncated"] = []header{{Key: "X-Body-Truncated", Value: strconv.FormatBool(req.Body.InputTruncated)}}
		req.Headers["x-body-action"] = []header{{Key: "X-Body-Action", Value: req.Body.Action}}
		return req, nil
	case "generate":
		n, _ := strconv.Atoi(q.Get("size"))
		return response{Status: "200", StatusDescription: "OK",
			Headers: map[string][]header{"content-type": {{Key: "Content-Type", Value: "text/plain"}}},
			Body:    strings.Repeat("x", n)}, nil
	case "readonly":
		req.Headers["host"] = []header{{Key: "Host", Value: "evil.example.com"}}
		return req, nil
	case "sleep":
		ms, _ := strconv.Atoi(q.Get("ms"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		if res != nil {
			return res, nil
		}
		return req, nil
	case "fail":
		return nil, errors.New("edge function failed on purpose")
	}
	return nil, errors.New("unknown handler " + handler)
}
