package locallambda

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

var updateWire = flag.Bool("update", false, "rewrite testdata/wire.golden from the current code")

// TestWireGolden sends a fixed sequence of raw HTTP/1.1 requests — every
// Lambda operation, their errors, unknown and unsupported operations,
// paths with escapes, empty and dot segments, the local Lambda's own
// resources and S3 — and compares the raw response bytes with
// testdata/wire.golden. The golden file was recorded on the code before
// the local Lambda was split into packages; it proves the split changed
// nothing on the wire. Only what cannot repeat is replaced: the Date
// header, UUIDs (numbered by first appearance), the listening address, and
// the size and hashes of the test function's package (a Go binary, which
// changes with the Go version).
//
// Every request carries an Authorization header of SigV4's shape
// (wireAuthorization), as every SDK sends one, except those recorded as
// [unsigned]; the server has no Credentials, so the shape is all it
// checks. The last section, added with package access, records what the
// local Lambda refuses — what a web page can send — and what it still
// serves unsigned.
func TestWireGolden(t *testing.T) {
	t.Parallel()
	clock := time.Date(2025, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	srv, err := New(Config{DataDir: t.TempDir(), Clock: func() time.Time { return clock }, ConcurrentExecutions: 1000}) // AWS's default, not this machine's
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	addr, err := srv.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &wireRecorder{t: t, addr: addr.String()}

	shellZip := wireZip(t, "bootstrap", "#!/bin/sh\n# wire\nexit 0\n")
	shell := base64.StdEncoding.EncodeToString(shellZip)
	shell2 := base64.StdEncoding.EncodeToString(wireZip(t, "bootstrap", "#!/bin/sh\n# wire-2\nexit 0\n"))
	shellHex := hexOf(shellZip)
	bootstrap, err := os.ReadFile(filepath.Join(lambdatest.FunctionDir(t), "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	runnerZip := wireZip(t, "bootstrap", string(bootstrap))
	sum := sha256.Sum256(runnerZip)
	w.replace(base64.StdEncoding.EncodeToString(sum[:]), "<runner-sha256>")
	w.replace(hex.EncodeToString(sum[:]), "<runner-hex>")
	w.replace(`"CodeSize":`+strconv.Itoa(len(runnerZip)), `"CodeSize":<runner-size>`)
	w.runnerSize = len(runnerZip)
	create := func(name, runtime, handler, zip string, extra string) string {
		return `{"FunctionName":"` + name + `","Role":"` + lambdatest.Role + `","Runtime":"` + runtime + `","Handler":"` + handler +
			`","Code":{"ZipFile":"` + zip + `"}` + extra + `}`
	}
	runnerCreate := create("runner", "provided.al2023", "big", base64.StdEncoding.EncodeToString(runnerZip), "")
	w.replace("<"+strconv.Itoa(len(runnerCreate))+" bytes>", "<runner create request>")

	// Account and unknown or unsupported operations.
	w.do("GET", "/2016-08-19/account-settings", "")
	w.do("PATCH", "/2015-03-31/functions/wire", "")
	w.do("HEAD", "/2015-03-31/functions/wire", "")
	w.do("GET", "/2099-01-01/anything/at/all", "")
	w.do("GET", "/2015-03-31/%66unctions", "")
	w.do("GET", "/2015-03-31//functions", "")
	w.do("POST", "/2014-11-13/functions/wire/invoke-async/", "{}")
	w.do("GET", "/2018-10-31/layers", "")
	w.do("GET", "/2015-03-31/functions/wire/policy", "")
	w.do("GET", "/2019-09-30/functions/wire/provisioned-concurrency", "")
	w.do("GET", "/2021-10-31/functions/wire/url", "")
	w.do("PUT", "/2016-08-19/account-settings", "")

	// CreateFunction and its errors.
	w.do("POST", "/2015-03-31/functions", `{`)
	w.do("POST", "/2015-03-31/functions", `[]`)
	w.do("POST", "/2015-03-31/functions", `{"FunctionName":12}`)
	w.do("POST", "/2015-03-31/functions", `{"FunctionName":"wire"}`)
	w.do("POST", "/2015-03-31/functions", `{"FunctionName":"wire","Role":"nope","Runtime":"provided.al2023","Handler":"b","Code":{"ZipFile":"`+shell+`"}}`)
	w.do("POST", "/2015-03-31/functions", `{"FunctionName":"wire","Role":"`+lambdatest.Role+`","PackageType":"Image","Code":{"ImageUri":"x"}}`)
	w.do("POST", "/2015-03-31/functions", create("wire", "provided.al2023", "bootstrap", "UEs=", ""))
	w.do("POST", "/2015-03-31/functions", create("wire", "provided.al2023", "bootstrap", shell, `,"Layers":["l"]`))
	w.do("POST", "/2015-03-31/functions", create("wire", "provided.al2023", "bootstrap", shell,
		`,"Environment":{"Variables":{"AWS_REGION":"x"}}`))
	w.do("POST", "/2015-03-31/functions", create("wire", "provided.al2023", "bootstrap", shell,
		`,"Description":"on the wire","Tags":{"team":"wire"},"Environment":{"Variables":{"MODE":"one"}},"Timeout":7,"MemorySize":256`))
	w.waitActive("wire", "")
	w.do("POST", "/2015-03-31/functions/", create("wire", "provided.al2023", "bootstrap", shell, ""))
	w.do("POST", "/2015-03-31/functions", runnerCreate)
	w.waitActive("runner", "")
	w.do("POST", "/2015-03-31/functions", create("broken", "python2.7", "h.h", shell, ""))
	w.waitSettled("broken")

	// Reading functions, with every form of name.
	w.do("GET", "/2015-03-31/functions/wire", "")
	w.do("GET", "/2015-03-31/functions/wire/", "")
	w.do("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Awire/configuration", "")
	w.do("GET", "/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:wire/configuration", "")
	w.do("GET", "/2015-03-31/functions/000000000000%3Afunction%3Awire/configuration", "")
	w.do("GET", "/2015-03-31/functions/wire%3A%24LATEST/configuration", "")
	w.do("GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A000000000000%3Afunction%3Awire", "")
	w.do("GET", "/2015-03-31/functions/wire%3A1?Qualifier=2", "")
	w.do("GET", "/2015-03-31/functions/bad%20name", "")
	w.do("GET", "/2015-03-31/functions/a%2Fb", "")
	w.do("GET", "/2015-03-31/functions//configuration", "")
	w.do("GET", "/2015-03-31/functions/./configuration", "")
	w.do("GET", "/2015-03-31/functions/../configuration", "")
	w.do("GET", "/2015-03-31/functions/%2E%2E/configuration", "")
	w.do("GET", "/2015-03-31/functions/"+strings.Repeat("x", 65), "")
	w.do("GET", "/2015-03-31/functions/broken", "")
	w.do("GET", "/2015-03-31/functions/ghost", "")
	w.do("GET", "/2015-03-31/functions", "")
	w.do("GET", "/2015-03-31/functions?MaxItems=1", "")
	w.do("GET", "/2015-03-31/functions?MaxItems=1&Marker="+base64.RawURLEncoding.EncodeToString([]byte("kbroken\x00")), "")
	w.do("GET", "/2015-03-31/functions?Marker=nope", "")
	w.do("GET", "/2015-03-31/functions?MaxItems=0", "")
	w.do("GET", "/2015-03-31/functions?FunctionVersion=SOME", "")
	w.do("GET", "/2015-03-31/functions?MasterRegion=us-east-1", "")
	w.do("GET", "/_locallambda/functions/wire/code/"+shellHex+".zip", "")
	w.do("HEAD", "/_locallambda/functions/wire/code/"+shellHex+".zip", "")
	w.do("GET", "/_locallambda/functions/wire/code/nope.zip", "")
	w.do("GET", "/_locallambda/functions/wire/code/"+fmt.Sprintf("%%%02X", shellHex[0])+shellHex[1:]+".zip", "")
	w.do("GET", "/_locallambda/functions/w%69re/code/"+shellHex+".zip", "")
	w.do("GET", "/_locallambda/functions/wire/code", "")
	w.do("GET", "/_locallambda/nope", "")
	w.do("GET", "/_locallambda//metrics/query", "")
	w.do("POST", "/_locallambda/metrics/query?function=wire", "")

	// Updates and versions.
	w.do("PUT", "/2015-03-31/functions/wire/configuration", `{"RevisionId":"stale"}`)
	w.do("PUT", "/2015-03-31/functions/wire/configuration", `{"Timeout":0}`)
	w.do("PUT", "/2015-03-31/functions/wire/configuration", `{"VpcConfig":{"SubnetIds":["s"]}}`)
	w.do("PUT", "/2015-03-31/functions/wire%3A1/configuration", `{}`)
	w.do("PUT", "/2015-03-31/functions/wire/configuration", `{"Description":"second","Environment":{"Variables":{"MODE":"two"}}}`)
	w.waitActive("wire", "")
	w.do("POST", "/2015-03-31/functions/wire/versions", `{"Description":"v1"}`)
	w.waitActive("wire", "1")
	w.do("POST", "/2015-03-31/functions/wire/versions", `{}`)
	w.do("POST", "/2015-03-31/functions/wire/versions", `{"CodeSha256":"wrong"}`)
	w.do("PUT", "/2015-03-31/functions/wire/code", `{"ZipFile":"`+shell2+`","DryRun":true}`)
	w.do("PUT", "/2015-03-31/functions/wire/code", `{"ZipFile":"`+shell2+`","RevisionId":"stale"}`)
	w.do("PUT", "/2015-03-31/functions/wire/code", `{"S3Bucket":"artifacts","S3Key":"none.zip"}`)
	w.do("PUT", "/2015-03-31/functions/wire/code", `{"ZipFile":"`+shell2+`","Publish":true}`)
	w.waitActive("wire", "")
	w.waitActive("wire", "2")
	w.do("GET", "/2015-03-31/functions/wire/versions", "")
	w.do("GET", "/2015-03-31/functions/wire/versions?MaxItems=2", "")
	w.do("GET", "/2015-03-31/functions?FunctionVersion=ALL", "")
	w.do("GET", "/2015-03-31/functions/wire?Qualifier=2", "")
	w.do("GET", "/2015-03-31/functions/wire/configuration?Qualifier=9", "")

	// Aliases.
	w.do("POST", "/2015-03-31/functions/wire/aliases", `{"Name":"live","FunctionVersion":"1","Description":"d","RoutingConfig":{"AdditionalVersionWeights":{"2":0.25}}}`)
	w.do("POST", "/2015-03-31/functions/wire/aliases", `{"Name":"live","FunctionVersion":"1"}`)
	w.do("POST", "/2015-03-31/functions/wire/aliases", `{"Name":"123","FunctionVersion":"1"}`)
	w.do("POST", "/2015-03-31/functions/wire/aliases", `{"Name":"bad","FunctionVersion":"1","RoutingConfig":{"AdditionalVersionWeights":{"1":0.5}}}`)
	w.do("POST", "/2015-03-31/functions/wire/aliases", `{"Name":"far","FunctionVersion":"7"}`)
	w.do("POST", "/2015-03-31/functions/wire/aliases", `{"Name":"dev","FunctionVersion":"$LATEST"}`)
	w.do("GET", "/2015-03-31/functions/wire/aliases/live", "")
	w.do("GET", "/2015-03-31/functions/wire/aliases/none", "")
	w.do("GET", "/2015-03-31/functions/wire/aliases", "")
	w.do("GET", "/2015-03-31/functions/wire/aliases?FunctionVersion=2&MaxItems=1", "")
	w.do("PUT", "/2015-03-31/functions/wire/aliases/live", `{"RevisionId":"stale"}`)
	w.do("PUT", "/2015-03-31/functions/wire/aliases/live", `{"RoutingConfig":{"AdditionalVersionWeights":{}},"Description":"all on 1"}`)
	w.do("PUT", "/2015-03-31/functions/wire/aliases/none", `{}`)
	w.do("GET", "/2015-03-31/functions/wire/configuration?Qualifier=live", "")
	w.do("DELETE", "/2015-03-31/functions/wire/aliases/dev", "")
	w.do("DELETE", "/2015-03-31/functions/wire/aliases/dev", "")
	w.do("DELETE", "/2015-03-31/functions/wire?Qualifier=1", "")

	// Concurrency.
	w.do("PUT", "/2017-10-31/functions/wire/concurrency", `{"ReservedConcurrentExecutions":5}`)
	w.do("PUT", "/2017-10-31/functions/wire/concurrency", `{"ReservedConcurrentExecutions":950}`)
	w.do("PUT", "/2017-10-31/functions/wire/concurrency", `{}`)
	w.do("GET", "/2019-09-30/functions/wire/concurrency", "")
	w.do("GET", "/2016-08-19/account-settings", "")
	w.do("DELETE", "/2017-10-31/functions/wire/concurrency", "")
	w.do("GET", "/2019-09-30/functions/wire/concurrency", "")
	w.do("GET", "/2017-10-31/functions/wire/concurrency", "")

	// Tags.
	fnARN := "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Awire"
	w.do("POST", "/2017-03-31/tags/"+fnARN, `{"Tags":{"env":"test"}}`)
	w.do("POST", "/2017-03-31/tags/"+fnARN, `{}`)
	w.do("POST", "/2017-03-31/tags/wire", `{"Tags":{"a":"b"}}`)
	w.do("POST", "/2017-03-31/tags/"+fnARN+"%3A1", `{"Tags":{"a":"b"}}`)
	w.do("GET", "/2017-03-31/tags/"+fnARN, "")
	w.do("DELETE", "/2017-03-31/tags/"+fnARN+"?tagKeys=team", "")
	w.do("DELETE", "/2017-03-31/tags/"+fnARN, "")
	w.do("GET", "/2017-03-31/tags/"+fnARN, "")

	// Event invoke configs.
	w.do("PUT", "/2019-09-25/functions/wire/event-invoke-config?Qualifier=live", `{"MaximumRetryAttempts":1,"DestinationConfig":{"OnFailure":{"Destination":"arn:aws:sqs:us-east-1:000000000000:dlq"}}}`)
	w.do("PUT", "/2019-09-25/functions/wire/event-invoke-config", `{"MaximumRetryAttempts":3}`)
	w.do("PUT", "/2019-09-25/functions/wire/event-invoke-config", `{"DestinationConfig":{"OnSuccess":{"Destination":"arn:aws:s3:::bucket"}}}`)
	w.do("POST", "/2019-09-25/functions/wire/event-invoke-config?Qualifier=live", `{"MaximumEventAgeInSeconds":120}`)
	w.do("POST", "/2019-09-25/functions/wire/event-invoke-config", `{"MaximumEventAgeInSeconds":120}`)
	w.do("GET", "/2019-09-25/functions/wire/event-invoke-config?Qualifier=live", "")
	w.do("GET", "/2019-09-25/functions/wire/event-invoke-config?Qualifier=nope", "")
	w.do("GET", "/2019-09-25/functions/wire/event-invoke-config/list", "")
	w.do("DELETE", "/2019-09-25/functions/wire/event-invoke-config?Qualifier=live", "")
	w.do("DELETE", "/2019-09-25/functions/wire/event-invoke-config?Qualifier=live", "")

	// Event source mappings.
	w.do("POST", "/2015-03-31/event-source-mappings", `{"FunctionName":"wire"}`)
	w.do("POST", "/2015-03-31/event-source-mappings", `{"FunctionName":"wire","EventSourceArn":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`)
	w.do("POST", "/2015-03-31/event-source-mappings", `{"FunctionName":"wire","EventSourceArn":"arn:aws:sqs:us-east-1:000000000000:q","BatchSize":5,"Enabled":false}`)
	esm := w.lastUUID()
	w.waitMapping(esm)
	w.do("GET", "/2015-03-31/event-source-mappings/"+esm, "")
	w.do("GET", "/2015-03-31/event-source-mappings/00000000-0000-0000-0000-000000000000", "")
	w.do("GET", "/2015-03-31/event-source-mappings?FunctionName=wire", "")
	w.do("PUT", "/2015-03-31/event-source-mappings/"+esm, `{"BatchSize":20000}`)
	w.do("PUT", "/2015-03-31/event-source-mappings/"+esm, `{"BatchSize":7,"Enabled":true}`)
	w.waitMapping(esm)
	w.do("POST", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Aevent-source-mapping%3A"+esm, `{"Tags":{"k":"v"}}`)
	w.do("GET", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Aevent-source-mapping%3A"+esm, "")
	w.do("DELETE", "/2015-03-31/event-source-mappings/"+esm, "")
	w.waitMappingGone(esm)
	w.do("DELETE", "/2015-03-31/event-source-mappings/"+esm, "")

	// Invoke, through the data plane.
	w.do("POST", "/2015-03-31/functions/runner/invocations", `{"bytes":5}`)
	w.do("POST", "/2015-03-31/functions/runner/invocations?Qualifier=%24LATEST", `{"bytes":3}`)
	w.do("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Arunner/invocations", `{"bytes":2}`)
	w.do("POST", "/2015-03-31/functions/runner/invocations", ``)
	w.do("POST", "/2015-03-31/functions/runner/invocations", `{"bytes":`)
	w.do("POST", "/2015-03-31/functions/runner/invocations?Qualifier=nope", `{}`)
	w.do("POST", "/2015-03-31/functions/runner%3A1/invocations?Qualifier=2", `{}`)
	w.do("POST", "/2015-03-31/functions/ghost/invocations", `{}`)
	w.do("POST", "/2015-03-31/functions/broken/invocations", `{}`)
	w.do("POST", "/2015-03-31/functions//invocations", `{}`)
	w.doHeaders("POST", "/2015-03-31/functions/runner/invocations", `{}`, "X-Amz-Invocation-Type: DryRun")
	w.doHeaders("POST", "/2015-03-31/functions/runner/invocations", `{}`, "X-Amz-Invocation-Type: Sometimes")
	w.doHeaders("POST", "/2015-03-31/functions/runner/invocations", `{}`, "X-Amz-Log-Type: Everything")
	w.doHeaders("POST", "/2015-03-31/functions/runner/invocations", `{}`, "X-Amz-Client-Context: not base64!")
	w.doHeaders("POST", "/2015-03-31/functions/runner/invocations", `{"bytes":1}`, "X-Amz-Client-Context: "+base64.StdEncoding.EncodeToString([]byte(`{"custom": {"a": "b"}}`)))
	w.doHeaders("POST", "/2015-03-31/functions/runner/invocations", `{"bytes":1}`, "X-Amz-Invocation-Type: Event")
	w.do("GET", "/2015-03-31/functions/runner/invocations", "")
	w.do("PUT", "/2017-10-31/functions/runner/concurrency", `{"ReservedConcurrentExecutions":0}`)
	w.do("POST", "/2015-03-31/functions/runner/invocations", `{"bytes":1}`)
	w.do("GET", "/_locallambda/metrics/query", "")
	w.do("GET", "/_locallambda/metrics/query?function=wire&step=soon", "")
	w.do("GET", "/_locallambda/metrics/query?function=wire&since=yesterday", "")
	w.do("GET", "/_locallambda/metrics/query?function=wire&since=10m&step=5m", "")
	w.do("GET", "/_locallambda/metrics/query?function=wire&qualifier=&since=2025-03-14T15:00:00Z&until=2025-03-14T15:01:00Z&step=30s", "")

	// S3, path-style, on the same port.
	w.do("GET", "/", "")
	w.do("PUT", "/artifacts", "")
	w.do("PUT", "/artifacts/builds/fn.zip", string(wireZip(t, "bootstrap", "#!/bin/sh\n# from-s3\nexit 0\n")))
	w.do("PUT", "/artifacts/builds//odd/../key", "odd")
	w.do("GET", "/artifacts/builds/fn.zip", "")
	w.do("HEAD", "/artifacts/builds/fn.zip", "")
	w.do("GET", "/artifacts?list-type=2&prefix=builds/", "")
	w.do("GET", "/artifacts/builds//odd/../key", "")
	w.do("GET", "/metrics?list-type=2", "")
	w.do("GET", "/2015-03-31", "")
	w.do("POST", "/2015-03-31/functions", `{"FunctionName":"from-s3","Role":"`+lambdatest.Role+`","Runtime":"provided.al2023","Handler":"b","Code":{"S3Bucket":"artifacts","S3Key":"builds/fn.zip"}}`)
	w.waitActive("from-s3", "")
	w.do("POST", "/2015-03-31/functions", `{"FunctionName":"from-s3b","Role":"`+lambdatest.Role+`","Runtime":"provided.al2023","Handler":"b","Code":{"S3Bucket":"artifacts","S3Key":"nope.zip"}}`)
	w.do("POST", "/2015-03-31/functions", `{"FunctionName":"from-s3b","Role":"`+lambdatest.Role+`","Runtime":"provided.al2023","Handler":"b","Code":{"S3Bucket":"nobucket","S3Key":"k"}}`)
	w.do("DELETE", "/artifacts/builds/fn.zip", "")
	w.do("DELETE", "/artifacts", "")

	// Deletes.
	w.do("DELETE", "/2015-03-31/functions/wire?Qualifier=%24LATEST", "")
	w.do("DELETE", "/2015-03-31/functions/wire?Qualifier=live", "")
	w.do("DELETE", "/2015-03-31/functions/wire?Qualifier=2", "")
	w.do("DELETE", "/2015-03-31/functions/wire%3A9", "")
	w.do("DELETE", "/2015-03-31/functions/wire", "")
	w.do("DELETE", "/2015-03-31/functions/wire", "")
	w.do("DELETE", "/2015-03-31/functions/runner", "")
	w.do("GET", "/2016-08-19/account-settings", "")

	// Refused before any routing (package access): a web page's requests,
	// a rebinding Host, no or a malformed signature — in the envelope of
	// the service they were for.
	evil := create("evil", "provided.al2023", "bootstrap", shell, "")
	w.doHeaders("POST", "/2015-03-31/functions", evil, "Origin: http://evil.example", "Content-Type: text/plain")
	w.doUnsigned("POST", "/2015-03-31/functions", evil, "Origin: http://evil.example", "Content-Type: text/plain")
	w.doUnsigned("POST", "/2015-03-31/functions/broken/invocations", `{}`, "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: no-cors", "Content-Type: text/plain")
	w.doHeaders("OPTIONS", "/2015-03-31/functions", "", "Origin: http://evil.example", "Access-Control-Request-Method: POST", "Access-Control-Request-Headers: authorization")
	w.doHeaders("GET", "/2015-03-31/functions", "", "Sec-Fetch-Site: same-origin")
	w.doHeaders("GET", "/2015-03-31/functions", "", "Host: rebind.evil.example:8085")
	w.doUnsigned("POST", "/2015-03-31/functions", evil, "Content-Type: application/json")
	w.doUnsigned("GET", "/2015-03-31/functions", "", "Authorization: Basic d2lyZTp3aXJl")
	w.doUnsigned("GET", "/2015-03-31/functions", "", "Authorization: AWS4-HMAC-SHA256 Credential=wire, SignedHeaders=host, Signature=00")
	w.doHeaders("PUT", "/evil", "", "Origin: http://evil.example")
	w.doHeaders("GET", "/", "", "Host: rebind.evil.example:8085")
	w.doUnsigned("GET", "/", "")
	w.doUnsigned("HEAD", "/artifacts/builds/fn.zip", "")
	w.doUnsigned("GET", "/metrics", "", "Sec-Fetch-Site: cross-site")
	w.doHeaders("GET", "/_locallambda/metrics/query?function=ghost", "", "Origin: http://evil.example")
	// Served: a presigned URL of SigV4's shape, and the local Lambda's own
	// read-only resources without a signature, typed into a browser's
	// address bar (Sec-Fetch-Site: none) or not.
	w.doUnsigned("GET", "/artifacts/builds/fn.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=wire%2F20250314%2Fus-east-1%2Fs3%2Faws4_request"+
		"&X-Amz-Date=20250314T150926Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature="+strings.Repeat("0", 64), "")
	w.doUnsigned("GET", "/_locallambda/metrics/query?function=ghost&since=2025-03-14T15:00:00Z&until=2025-03-14T15:01:00Z", "")
	w.doUnsigned("GET", "/_locallambda/functions/wire/code/nope.zip", "", "Sec-Fetch-Site: none")
	// Nothing was created.
	w.do("GET", "/2015-03-31/functions/evil", "")

	got := w.out.Bytes()
	golden := filepath.Join("testdata", "wire.golden")
	if *updateWire {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to record it)", err)
	}
	if !bytes.Equal(got, want) {
		gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gotLines), len(wantLines)) {
			var g, w string
			if i < len(gotLines) {
				g = gotLines[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if g != w {
				t.Fatalf("the wire bytes differ from %s at line %d:\ngot:  %q\nwant: %q", golden, i+1, g, w)
			}
		}
	}
}

// wireZip builds a package of one file, byte for byte the same every time.
func wireZip(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(0o755)
	f, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, content); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hexOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// wireRecorder sends raw requests and records normalized raw responses.
type wireRecorder struct {
	t        *testing.T
	addr     string
	out      bytes.Buffer
	replaces []string // old, new pairs, applied before UUID numbering
	// runnerSize is the size of the test function's package; the account's
	// code size is recorded as "<runner-size>+REST" while it is counted.
	runnerSize int
	uuids      map[string]string
	last       string // the last UUID first seen
}

var (
	uuidPattern         = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	datePattern         = regexp.MustCompile(`(?m)^Date: .*\r\n`)
	lastModifiedPattern = regexp.MustCompile(`(?m)^Last-Modified: .*\r\n`)
	usagePattern        = regexp.MustCompile(`"AccountUsage":\{"TotalCodeSize":(\d+)`)
)

func (w *wireRecorder) replace(old, new string) { w.replaces = append(w.replaces, old, new) }

// wireAuthorization is an Authorization header of the shape the AWS SDKs
// send (AWS Signature Version 4); its signature is not a real one.
var wireAuthorization = "Authorization: AWS4-HMAC-SHA256 Credential=wire/20250314/us-east-1/lambda/aws4_request, " +
	"SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)

func (w *wireRecorder) do(method, path, body string) { w.doHeaders(method, path, body) }

// doHeaders sends one request with extra header lines (a Host line
// replaces the real one) and wireAuthorization, and records the response.
func (w *wireRecorder) doHeaders(method, path, body string, headers ...string) {
	w.t.Helper()
	w.record(method, path, body, true, headers)
}

// doUnsigned is doHeaders without wireAuthorization; the record says
// [unsigned].
func (w *wireRecorder) doUnsigned(method, path, body string, headers ...string) {
	w.t.Helper()
	w.record(method, path, body, false, headers)
}

func (w *wireRecorder) record(method, path, body string, signed bool, headers []string) {
	w.t.Helper()
	s := string(w.roundTrip(method, path, body, signed, headers...))
	// A zip body is recorded by its hash.
	if i := strings.Index(s, "\r\n\r\nPK\x03\x04"); i >= 0 {
		s = s[:i+4] + "<zip sha256 " + hexOf([]byte(s[i+4:])) + ">"
	}
	s = datePattern.ReplaceAllString(s, "")
	if strings.HasPrefix(path, "/_locallambda/functions/") {
		// http.ServeFile sends the package file's modification time.
		s = lastModifiedPattern.ReplaceAllString(s, "Last-Modified: <file mtime>\r\n")
	}
	var rec strings.Builder
	fmt.Fprintf(&rec, "=== %s %s", method, path)
	if !signed {
		rec.WriteString(" [unsigned]")
	}
	for _, h := range headers {
		fmt.Fprintf(&rec, " [%s]", h)
	}
	if body != "" && len(body) <= 200 && !strings.ContainsFunc(body, func(r rune) bool { return r < ' ' || r > '~' }) {
		fmt.Fprintf(&rec, " %s", body)
	} else if body != "" {
		fmt.Fprintf(&rec, " <%d bytes>", len(body))
	}
	fmt.Fprintf(&rec, "\n%s\n", s)
	w.out.WriteString(w.normalize(rec.String()))
}

// normalize replaces what cannot repeat from one run to the next.
func (w *wireRecorder) normalize(s string) string {
	s = strings.ReplaceAll(s, w.addr, "ENDPOINT")
	s = strings.NewReplacer(w.replaces...).Replace(s)
	s = usagePattern.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.Atoi(usagePattern.FindStringSubmatch(m)[1])
		if w.runnerSize == 0 || n < w.runnerSize {
			return m
		}
		return fmt.Sprintf(`"AccountUsage":{"TotalCodeSize":<runner-size>+%d`, n-w.runnerSize)
	})
	if w.uuids == nil {
		w.uuids = map[string]string{}
	}
	return uuidPattern.ReplaceAllStringFunc(s, func(u string) string {
		n, ok := w.uuids[u]
		if !ok {
			n = fmt.Sprintf("<uuid-%d>", len(w.uuids)+1)
			w.uuids[u] = n
			w.last = u
		}
		return n
	})
}

// lastUUID is the real value of the UUID seen last for the first time.
func (w *wireRecorder) lastUUID() string { return w.last }

func (w *wireRecorder) roundTrip(method, path, body string, signed bool, headers ...string) []byte {
	w.t.Helper()
	c, err := net.Dial("tcp", w.addr)
	if err != nil {
		w.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	host := "Host: " + w.addr
	for _, h := range headers {
		if strings.HasPrefix(h, "Host: ") {
			host = h
		}
	}
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\n%s\r\nUser-Agent: wire-test\r\nConnection: close\r\n", method, path, host)
	if signed {
		fmt.Fprintf(&req, "%s\r\n", wireAuthorization)
	}
	for _, h := range headers {
		if strings.HasPrefix(h, "Host: ") {
			continue
		}
		fmt.Fprintf(&req, "%s\r\n", h)
	}
	if body != "" || method == "POST" || method == "PUT" {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	req.WriteString(body)
	if _, err := c.Write(req.Bytes()); err != nil {
		w.t.Fatal(err)
	}
	raw, err := io.ReadAll(c)
	if err != nil {
		w.t.Fatal(err)
	}
	return raw
}

// get sends a request outside the record and decodes its JSON body.
func (w *wireRecorder) get(path string) (int, map[string]any) {
	w.t.Helper()
	raw := w.roundTrip("GET", path, "", true)
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	status, _ := strconv.Atoi(strings.Fields(string(head))[1])
	m := map[string]any{}
	_ = json.Unmarshal(body, &m)
	return status, m
}

// waitActive waits, outside the record, until a version is Active with
// its last update successful.
func (w *wireRecorder) waitActive(name, qualifier string) {
	w.t.Helper()
	path := "/2015-03-31/functions/" + name + "/configuration"
	if qualifier != "" {
		path += "?Qualifier=" + qualifier
	}
	w.waitFor(name+":"+qualifier+" Active", func() bool {
		_, m := w.get(path)
		return m["State"] == "Active" && m["LastUpdateStatus"] == "Successful"
	})
}

// waitSettled waits until a function's creation has finished either way.
func (w *wireRecorder) waitSettled(name string) {
	w.t.Helper()
	w.waitFor(name+" settled", func() bool {
		_, m := w.get("/2015-03-31/functions/" + name + "/configuration")
		return m["State"] == "Active" || m["State"] == "Failed"
	})
}

func (w *wireRecorder) waitMapping(id string) {
	w.t.Helper()
	w.waitFor("mapping "+id+" settled", func() bool {
		_, m := w.get("/2015-03-31/event-source-mappings/" + id)
		return m["State"] == "Enabled" || m["State"] == "Disabled"
	})
}

func (w *wireRecorder) waitMappingGone(id string) {
	w.t.Helper()
	w.waitFor("mapping "+id+" gone", func() bool {
		status, _ := w.get("/2015-03-31/event-source-mappings/" + id)
		return status == 404
	})
}

func (w *wireRecorder) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
