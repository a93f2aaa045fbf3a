// Package fnbuild builds a Go Lambda function (a main package using
// github.com/aws/aws-lambda-go) into the zip the provided.al2023 runtime
// runs: one executable named bootstrap at the root. It needs the Go
// toolchain and nothing else — no make, no Docker. It must not be used on
// a request path: building takes seconds.
package fnbuild

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// Zip builds the main package at pkg (a path such as
// ./examples/functions/hello, resolved from dir) for Linux on this
// machine's architecture and returns the zipped bootstrap.
func Zip(ctx context.Context, dir, pkg string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "sluice-fnbuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", bin, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build function %s: %w\n%s", pkg, err, out)
	}
	return ZipExecutable(bin)
}

// ZipExecutable zips the executable at path as a function's bootstrap.
// Sluice's demo, away from a checkout, zips the running sluice binary,
// which is the example function when run as bootstrap.
func ZipExecutable(path string) ([]byte, error) {
	exe, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, exe); err != nil {
		return nil, fmt.Errorf("zip %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Architecture is the Lambda architecture name of the zips Zip builds.
func Architecture() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}
