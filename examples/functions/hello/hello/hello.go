// Package hello is the example Lambda function of Sluice's canary demo,
// built with github.com/aws/aws-lambda-go: command examples/functions/hello
// runs it, and so does the sluice binary itself when the demo, away from a
// checkout, packages it as the function (see Invoked). What it says and
// how often it fails come from its environment, so one package deploys as
// different versions:
//
//	HELLO_VERSION  the text it reports as its version (default "v1")
//	FAILURE_RATE   the share of invocations that fail, 0 to 1 (default 0)
//	LATENCY_MS     milliseconds it waits before answering (default 0), so
//	               a version can be made slower than another
//
// It answers {"message", "version", "functionVersion", "requestId",
// "event"}, echoing the event it was given.
package hello

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type response struct {
	Message         string         `json:"message"`
	Version         string         `json:"version"`
	FunctionVersion string         `json:"functionVersion"`
	RequestID       string         `json:"requestId"`
	Event           map[string]any `json:"event,omitempty"`
}

// Start runs the function: it serves the Lambda Runtime API until the
// process ends.
func Start() {
	version := os.Getenv("HELLO_VERSION")
	if version == "" {
		version = "v1"
	}
	failureRate, err := strconv.ParseFloat(os.Getenv("FAILURE_RATE"), 64)
	if err != nil {
		failureRate = 0
	}
	latencyMS, err := strconv.ParseFloat(os.Getenv("LATENCY_MS"), 64)
	if err != nil {
		latencyMS = 0
	}
	lambda.Start(func(ctx context.Context, event map[string]any) (*response, error) {
		if latencyMS > 0 {
			time.Sleep(time.Duration(latencyMS * float64(time.Millisecond)))
		}
		if failureRate > 0 && rand.Float64() < failureRate {
			return nil, fmt.Errorf("hello %s failed on purpose (FAILURE_RATE=%g)", version, failureRate)
		}
		res := &response{
			Message:         "hello from " + version,
			Version:         version,
			FunctionVersion: lambdacontext.FunctionVersion,
			Event:           event,
		}
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			res.RequestID = lc.AwsRequestID
		}
		return res, nil
	})
}

// Invoked reports whether this process was started by a Lambda runtime as
// a package's bootstrap: the name a provided runtime executes, with the
// Runtime API's address in its environment.
func Invoked() bool {
	return filepath.Base(os.Args[0]) == "bootstrap" && os.Getenv("AWS_LAMBDA_RUNTIME_API") != ""
}
