package lambda

// The test harness of this package: a real local Lambda over HTTP, the
// accounts built on it, the hello function's zip, and a driver that runs a
// stage's tasks the way the engine does. No part of the Lambda API is
// mocked (ARCHITECTURE.md rule 1).

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/fnbuild"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/locallambdatest"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/status"
)

var (
	helloOnce sync.Once
	helloBuf  []byte
	helloErr  error
)

// helloZip is examples/functions/hello built once per test binary.
func helloZip(t testing.TB) []byte {
	t.Helper()
	helloOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		helloBuf, helloErr = fnbuild.Zip(ctx, "../../..", "./examples/functions/hello")
	})
	if helloErr != nil {
		t.Fatalf("build hello: %v", helloErr)
	}
	return helloBuf
}

// variantZip is zip plus a file naming n: different code (another
// CodeSha256) that runs the same.
func variantZip(t testing.TB, base []byte, n int) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(base), int64(len(base)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		w, err := zw.CreateHeader(&f.FileHeader)
		if err != nil {
			t.Fatal(err)
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, r); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	w, err := zw.Create("variant.txt")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(w, "variant %d\n", n)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// localEnv is a local Lambda for one test.
type localEnv struct {
	srv      *locallambda.Server
	accounts *awsclient.Accounts
	acct     *awsclient.Account
	c        *lambda.Client
	s3       *s3.Client
	endpoint string // moto_server's URL, for a moto environment
}

const testBucket = "artifacts"

// newLocalEnv starts a local Lambda in a temporary directory and builds
// the accounts on it, with a bucket "artifacts" for code.
func newLocalEnv(t testing.TB) *localEnv {
	t.Helper()
	ctx := context.Background()
	srv := locallambdatest.Start(t, locallambda.Config{})
	accounts := locallambdatest.Accounts(t, srv)
	acct, err := accounts.Get(awsclient.LocalName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acct.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return &localEnv{srv: srv, accounts: accounts, acct: acct, c: acct.Lambda, s3: acct.S3}
}

// put uploads b as s3://artifacts/key.
func (e *localEnv) put(t testing.TB, key string, b []byte) {
	t.Helper()
	if _, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", testBucket, key, err)
	}
}

// stageRun runs one stage's tasks as the engine does: each task until it
// is no longer Running (waiting RetryAfter between runs), its
// Result.Context merged into the next runs' Task.Context and its Outputs
// collected.
type stageRun struct {
	t       testing.TB
	typ     stage.Type
	app     string
	ctx     map[string]any
	outputs map[string]any
	runs    map[string]int // runs per task
}

func newStageRun(t testing.TB, typ stage.Type, app string, fields map[string]any) *stageRun {
	t.Helper()
	if errs := typ.Validate(fields); len(errs) > 0 {
		t.Fatalf("Validate(%v) = %v", fields, errs)
	}
	return &stageRun{t: t, typ: typ, app: app, ctx: maps.Clone(fields), outputs: map[string]any{}, runs: map[string]int{}}
}

// newEvaluatedStageRun is newStageRun for fields as an expression gave
// them when the stage started: the document wrote ${…}, which validation
// leaves to the run, so they were not validated.
func newEvaluatedStageRun(t testing.TB, typ stage.Type, app string, fields map[string]any) *stageRun {
	return &stageRun{t: t, typ: typ, app: app, ctx: maps.Clone(fields), outputs: map[string]any{}, runs: map[string]int{}}
}

// mustRefuse checks that typ's Validate refuses fields with one problem,
// at field, whose message holds each of want.
func mustRefuse(t testing.TB, typ stage.Type, fields map[string]any, field string, want ...string) {
	t.Helper()
	errs := typ.Validate(fields)
	if len(errs) != 1 || errs[0].Field != field {
		t.Fatalf("Validate(%v) = %v; want one problem at %s", fields, errs, field)
	}
	for _, w := range want {
		if !strings.Contains(errs[0].Msg, w) {
			t.Errorf("Validate: %s: %q; want it to say %q", field, errs[0].Msg, w)
		}
	}
}

// task runs one task to a final status and returns its last result.
func (r *stageRun) task(name string) stage.Result {
	r.t.Helper()
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for {
		now := time.Now()
		if now.After(deadline) {
			r.t.Fatalf("task %s still Running after 20s: %v", name, r.ctx[ctxWaitingFor])
		}
		task := &stage.Task{Name: name, ExecutionID: "exec", StageID: "stage", StageRefID: "1", StageName: r.typ.Name(),
			Application: r.app, Context: maps.Clone(r.ctx), StartTime: start, TaskStartTime: start, Now: now, User: "test"}
		res, err := r.typ.Run(context.Background(), task)
		r.runs[name]++
		if err != nil {
			r.t.Fatalf("task %s: Run returned error %v", name, err)
		}
		maps.Copy(r.ctx, res.Context)
		maps.Copy(r.outputs, res.Outputs)
		if res.Status != status.Running {
			if res.Status != status.Succeeded && res.Status != status.Skipped && res.Error == "" {
				r.t.Fatalf("task %s ended %s without an error message", name, res.Status)
			}
			if strings.Contains(res.Error, "No reason provided") {
				r.t.Fatalf("task %s: %q", name, res.Error)
			}
			return res
		}
		if res.RetryAfter <= 0 {
			r.t.Fatalf("task %s returned Running without RetryAfter", name)
		}
		time.Sleep(res.RetryAfter)
	}
}

// all runs the stage's tasks in order from the first, stopping at the
// first that does not succeed, and returns its result.
func (r *stageRun) all() stage.Result {
	r.t.Helper()
	return r.from(0)
}

// from runs the tasks from index i on.
func (r *stageRun) from(i int) stage.Result {
	r.t.Helper()
	tasks := r.typ.Tasks(r.ctx)
	var res stage.Result
	for _, name := range tasks[i:] {
		res = r.task(name)
		if res.Status != status.Succeeded {
			return res
		}
	}
	return res
}

// mustSucceed runs every task and fails the test unless all succeed.
func (r *stageRun) mustSucceed() map[string]any {
	r.t.Helper()
	if res := r.all(); res.Status != status.Succeeded {
		r.t.Fatalf("%s: %s: %s", r.typ.Name(), res.Status, res.Error)
	}
	return r.outputs
}

// mustFail runs every task, fails the test unless one ends TERMINAL, and
// returns its error.
func (r *stageRun) mustFail() string {
	r.t.Helper()
	res := r.all()
	if res.Status != status.Terminal {
		r.t.Fatalf("%s: want TERMINAL, got %s (outputs %v)", r.typ.Name(), res.Status, r.outputs)
	}
	return res.Error
}

// typeOf returns the stage type named name from Types, reading no
// zipFile.
func typeOf(t testing.TB, accounts *awsclient.Accounts, name string) stage.Type {
	t.Helper()
	return typeWithZipFileRoot(t, accounts, name, "")
}

// typeWithZipFileRoot is typeOf whose zipFile is read under root.
func typeWithZipFileRoot(t testing.TB, accounts *awsclient.Accounts, name, root string) stage.Type {
	t.Helper()
	return typeWith(t, name, Options{Accounts: accounts, ZipFileRoot: root})
}

// typeWith returns the stage type named name from Types(opts).
func typeWith(t testing.TB, name string, opts Options) stage.Type {
	t.Helper()
	for _, typ := range Types(opts) {
		if typ.Name() == name {
			return typ
		}
	}
	t.Fatalf("Types has no %s", name)
	return nil
}
