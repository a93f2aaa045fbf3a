package locallambda

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// TestBodyDeadline: the local Lambda's server cuts off a client that
// dribbles a CreateFunction body, and an Invoke that runs well past the
// same deadline is answered.
func TestBodyDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	cs := newCtlServer(t, func(c *Config) { c.bodyTimeout = timeout })

	// Headers as the SDK signs them, then the body a byte at a time.
	req, _ := http.NewRequest("POST", cs.URL()+"/2015-03-31/functions", strings.NewReader("{"))
	lambdatest.Sign(t, req, []byte("{}"), "lambda", lambdatest.AccessKeyID, lambdatest.SecretAccessKey)
	c, err := net.Dial("tcp", strings.TrimPrefix(cs.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	var head strings.Builder
	head.WriteString("POST /2015-03-31/functions HTTP/1.1\r\nHost: " + req.Host + "\r\nContent-Length: 100000\r\n")
	for k, vs := range req.Header {
		head.WriteString(k + ": " + vs[0] + "\r\n")
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(c, head.String()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	dribbled := make(chan struct{})
	go func() {
		defer close(dribbled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_, err = io.Copy(io.Discard, c)
	close(stop)
	<-dribbled
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the local Lambda kept a dribbling CreateFunction open for a minute")
	}

	// An Invoke that takes five body deadlines.
	in := lambdatest.CreateInput("sleeper", lambdatest.FunctionZip(t))
	in.Handler = aws.String("sleep")
	cs.CreateActive(t, in)
	ms := int(5 * timeout / time.Millisecond)
	payload, _ := json.Marshal(map[string]int{"MS": ms})
	out, err := cs.Lambda.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("sleeper"), Payload: payload})
	if err != nil {
		t.Fatalf("Invoke of a function sleeping %d ms: %v", ms, err)
	}
	var got struct{ Slept int }
	if err := json.Unmarshal(out.Payload, &got); err != nil || out.FunctionError != nil || got.Slept != ms {
		t.Errorf("Invoke answered %s (function error %v), want slept %d", out.Payload, aws.ToString(out.FunctionError), ms)
	}
}
