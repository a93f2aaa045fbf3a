// Command testfn is the function the local Lambda's tests run: one binary,
// built with github.com/aws/aws-lambda-go, whose behaviour is picked by the
// function's Handler (_HANDLER), so a test suite needs a single build.
//
//	echo      returns {"pid","event","requestId","functionArn","version","remainingMs","clientContext"}
//	          and logs a line; the event {"panic":true} panics, {"exit":N} exits
//	          with status N, {"print":N} first prints N bytes of numbered lines,
//	          {"spawn":true} first starts "sleep 300" sharing its stdout and
//	          prints "spawned <pid>".
//	          Any handler name not listed here behaves as echo.
//	error     logs a line and returns an error ("boom")
//	panic     panics ("kaboom"); aws-lambda-go reports it and exits
//	exit      exits with status 2 in the middle of the invocation
//	sleep     sleeps {"ms":N} milliseconds, ignoring the deadline
//	env       returns the process environment as a JSON object
//	big       returns a JSON string of {"bytes":N} bytes
//	count     appends a line to $COUNT_FILE, then returns an error
//	record    appends the event, compacted to one line, to $RECORD_FILE and
//	          returns {"recorded":true}, or the error "recorded and failed"
//	          when $FAIL is set
//	initfail  exits with status 3 before asking for the first event
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	handler := os.Getenv("_HANDLER")
	if handler == "initfail" {
		fmt.Fprintln(os.Stderr, "initfail: refusing to start")
		os.Exit(3)
	}
	lambda.Start(func(ctx context.Context, event json.RawMessage) (any, error) {
		return handle(ctx, handler, event)
	})
}

func handle(ctx context.Context, handler string, event json.RawMessage) (any, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	switch handler {
	default:
		var in struct {
			Panic bool
			Exit  int
			Print int
			Spawn bool
		}
		_ = json.Unmarshal(event, &in)
		if in.Spawn {
			c := exec.Command("sleep", "300")
			c.Stdout = os.Stdout
			if err := c.Start(); err != nil {
				return nil, err
			}
			fmt.Println("spawned", c.Process.Pid)
		}
		for i := 0; i < in.Print; i += 16 {
			fmt.Printf("line %09d\n", i)
		}
		if in.Panic {
			panic("kaboom")
		}
		if in.Exit != 0 {
			os.Exit(in.Exit)
		}
		fmt.Println("echo: handling", lc.AwsRequestID)
		deadline, _ := ctx.Deadline()
		return map[string]any{
			"pid":           os.Getpid(),
			"event":         event,
			"requestId":     lc.AwsRequestID,
			"functionArn":   lc.InvokedFunctionArn,
			"version":       os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"),
			"remainingMs":   time.Until(deadline).Milliseconds(),
			"clientContext": lc.ClientContext.Custom,
		}, nil
	case "error":
		fmt.Fprintln(os.Stderr, "error: about to fail")
		return nil, errors.New("boom")
	case "panic":
		panic("kaboom")
	case "exit":
		fmt.Println("exit: leaving with status 2")
		os.Exit(2)
		return nil, nil
	case "sleep":
		var in struct{ MS int }
		_ = json.Unmarshal(event, &in)
		time.Sleep(time.Duration(in.MS) * time.Millisecond)
		return map[string]any{"slept": in.MS, "pid": os.Getpid()}, nil
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return env, nil
	case "big":
		var in struct{ Bytes int }
		_ = json.Unmarshal(event, &in)
		return strings.Repeat("x", in.Bytes), nil
	case "count":
		f, err := os.OpenFile(os.Getenv("COUNT_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(f, lc.AwsRequestID)
		f.Close()
		return nil, errors.New("counted")
	case "record":
		f, err := os.OpenFile(os.Getenv("RECORD_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		line, err := json.Marshal(event)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(f, "%s\n", line)
		f.Close()
		if os.Getenv("FAIL") != "" {
			return nil, errors.New("recorded and failed")
		}
		return map[string]any{"recorded": true}, nil
	}
}
