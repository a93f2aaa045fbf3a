// Package lambdatest holds what the local Lambda's tests share: the test
// function (a real aws-lambda-go binary, built once), deployment packages,
// SDK clients pointed at an endpoint, waits that poll as the SDK's waiters
// do, checks of AWS errors, a gate that holds activations, and the
// benchmarks' measurements.
//
// It is for tests and benchmarks only: production code must not import
// it. It keeps no package-level state beyond the once-built test function.
package lambdatest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Role is an execution role ARN every CreateFunction of the tests uses.
const Role = "arn:aws:iam::000000000000:role/lambda-role"

// The test function binary (testdata/functions/testfn), built once per test
// binary, or taken from the user's cache when its sources have not changed.
var testFn struct {
	once sync.Once
	dir  string
	err  error
}

// FunctionDir returns a directory holding the test function as an
// executable "bootstrap", built with aws-lambda-go's lambda.Start. Its
// Handler picks its behaviour; see testdata/functions/testfn/main.go.
func FunctionDir(tb testing.TB) string {
	tb.Helper()
	testFn.once.Do(func() { testFn.dir, testFn.err = buildTestFunction() })
	if testFn.err != nil {
		tb.Fatal(testFn.err)
	}
	return testFn.dir
}

// buildTestFunction builds testfn into a directory named by the hash of its
// sources and the Go version, under the user cache directory, unless it is
// there already.
func buildTestFunction() (string, error) {
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("locate the test function's sources")
	}
	src := filepath.Join(filepath.Dir(self), "testdata", "functions", "testfn")
	h := sha256.New()
	io.WriteString(h, runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH)
	for _, name := range []string{"main.go", "go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "sluice-locallambda-testfn", hex.EncodeToString(h.Sum(nil))[:16])
	if fi, err := os.Stat(filepath.Join(dir, "bootstrap")); err == nil && fi.Mode()&0o111 != 0 {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build next to the target and rename, so a concurrent test binary
	// never runs a half-written file. testfn is a module of its own (see
	// its go.mod).
	tmp := filepath.Join(dir, fmt.Sprintf("bootstrap.%d.tmp", os.Getpid()))
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the test function: %v\n%s", err, out)
	}
	return dir, os.Rename(tmp, filepath.Join(dir, "bootstrap"))
}

// FunctionZip is a deployment package of the test function.
func FunctionZip(tb testing.TB) []byte {
	tb.Helper()
	bootstrap, err := os.ReadFile(filepath.Join(FunctionDir(tb), "bootstrap"))
	if err != nil {
		tb.Fatal(err)
	}
	return Zip(tb, map[string]string{"bootstrap": string(bootstrap)})
}

// BootstrapZip is a package whose executable bootstrap is a small shell
// script; the control plane only needs it to unpack and pass CheckRuntime.
// marker makes its content, and so its CodeSha256, differ.
func BootstrapZip(tb testing.TB, marker string) []byte {
	tb.Helper()
	return Zip(tb, map[string]string{
		"bootstrap": "#!/bin/sh\n# " + marker + "\nexit 0\n",
		"README":    marker,
	})
}

// Zip builds a zip; "bootstrap" is executable.
func Zip(tb testing.TB, files map[string]string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(0o644)
		if name == "bootstrap" {
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(w, content); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// CodeSha is a package's CodeSha256 as the API reports it.
func CodeSha(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// CreateInput is a valid CreateFunction input.
func CreateInput(name string, zip []byte) *lambda.CreateFunctionInput {
	return &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Role:         aws.String(Role),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Code:         &types.FunctionCode{ZipFile: zip},
	}
}

// DirNames lists the names in dir.
func DirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}
