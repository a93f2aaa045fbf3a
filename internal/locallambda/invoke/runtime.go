package invoke

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/atomicfile"
)

// Runtimes the local Lambda runs, and how:
//
//	provided.al2023, provided.al2, provided   the package's executable "bootstrap"
//	go1.x                                     "bootstrap", or the executable the Handler names
//	python3.x                                 bootstrap/python_bootstrap.py on this machine's python3
//	nodejs*                                   bootstrap/node_bootstrap.js on this machine's node
//
// The shipped bootstraps run the Runtime API loop and call "file.function"
// handlers. They are written under DataDir/runtime on first use.

//go:embed bootstrap/python_bootstrap.py bootstrap/node_bootstrap.js
var bootstraps embed.FS

// ErrUnsupportedRuntime is wrapped by CheckRuntime's error for a runtime
// the local Lambda cannot run at all (as opposed to a package that lacks
// what its runtime needs).
var ErrUnsupportedRuntime = errors.New("runtime not supported by the local Lambda")

// errRuntimeUnavailable marks a runtime that cannot start on this machine
// (an unsupported runtime, a missing interpreter).
var errRuntimeUnavailable = errors.New("runtime unavailable")

type runtimeKind int

const (
	kindUnsupported runtimeKind = iota
	kindProvided
	kindGo
	kindPython
	kindNode
)

func kindOf(runtime string) runtimeKind {
	switch {
	case runtime == "provided" || runtime == "provided.al2" || runtime == "provided.al2023":
		return kindProvided
	case runtime == "go1.x":
		return kindGo
	case strings.HasPrefix(runtime, "python3."):
		return kindPython
	case strings.HasPrefix(runtime, "nodejs"):
		return kindNode
	}
	return kindUnsupported
}

const supportedRuntimes = "provided.al2023, provided.al2, provided, go1.x, python3.x (runs on this machine's python3), nodejs* (runs on this machine's node)"

// CheckRuntime reports whether the package in codeDir can run under
// runtime on this machine: provided.* and go1.x need an executable
// "bootstrap" at the package root (go1.x may instead name its executable
// in the Handler, which is checked when it starts); python3.x needs python3
// on PATH; nodejs* needs node. An unknown runtime is an error wrapping
// ErrUnsupportedRuntime that lists the supported ones.
func CheckRuntime(runtime string, codeDir string) error {
	switch kindOf(runtime) {
	case kindProvided:
		return checkBootstrap(runtime, codeDir)
	case kindGo:
		if _, err := os.Stat(filepath.Join(codeDir, "bootstrap")); err == nil {
			return checkBootstrap(runtime, codeDir)
		}
		return nil
	case kindPython:
		if _, err := exec.LookPath("python3"); err != nil {
			return fmt.Errorf("runtime %s needs python3 on the PATH of the machine running Sluice; none was found", runtime)
		}
		return nil
	case kindNode:
		if _, err := exec.LookPath("node"); err != nil {
			return fmt.Errorf("runtime %s needs node on the PATH of the machine running Sluice; none was found", runtime)
		}
		return nil
	}
	if runtime == "" {
		return fmt.Errorf("%w: a function without a Runtime (a container image) cannot run locally; supported runtimes: %s", ErrUnsupportedRuntime, supportedRuntimes)
	}
	return fmt.Errorf("%w: %q; supported runtimes: %s", ErrUnsupportedRuntime, runtime, supportedRuntimes)
}

func checkBootstrap(runtime, codeDir string) error {
	fi, err := os.Stat(filepath.Join(codeDir, "bootstrap"))
	switch {
	case err != nil:
		return fmt.Errorf("runtime %s needs an executable file named bootstrap at the root of the deployment package; the package has none", runtime)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("runtime %s needs an executable file named bootstrap at the root of the deployment package; bootstrap is not a regular file", runtime)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("runtime %s needs an executable bootstrap; bootstrap in the deployment package has no execute permission (zip it with its Unix mode, e.g. chmod 755 bootstrap before zipping)", runtime)
	}
	return nil
}

// runtimeFiles locates interpreters and writes the shipped bootstraps,
// each once per Invoker.
type runtimeFiles struct {
	dir string

	writeOnce sync.Once
	writeErr  error

	pythonOnce sync.Once
	python     string
	pythonErr  error

	nodeOnce sync.Once
	node     string
	nodeErr  error
}

// command returns how to start spec's runtime: the program, its arguments
// and environment variables beyond the standard ones.
func (iv *Invoker) command(spec *FunctionSpec) (path string, args, env []string, err error) {
	switch kindOf(spec.Runtime) {
	case kindProvided:
		return filepath.Join(spec.CodeDir, "bootstrap"), nil, nil, nil
	case kindGo:
		bootstrap := filepath.Join(spec.CodeDir, "bootstrap")
		if _, err := os.Stat(bootstrap); err == nil || spec.Handler == "" {
			return bootstrap, nil, nil, nil
		}
		return filepath.Join(spec.CodeDir, filepath.Clean("/" + spec.Handler)[1:]), nil, nil, nil
	case kindPython:
		py, err := iv.rt.pythonPath()
		if err != nil {
			return "", nil, nil, err
		}
		dir, err := iv.rt.write()
		if err != nil {
			return "", nil, nil, err
		}
		return py, []string{"-u", filepath.Join(dir, "python_bootstrap.py")}, []string{"PYTHONUNBUFFERED=1"}, nil
	case kindNode:
		node, err := iv.rt.nodePath()
		if err != nil {
			return "", nil, nil, err
		}
		dir, err := iv.rt.write()
		if err != nil {
			return "", nil, nil, err
		}
		return node, []string{filepath.Join(dir, "node_bootstrap.js")}, nil, nil
	}
	return "", nil, nil, fmt.Errorf("%w: %w", errRuntimeUnavailable, CheckRuntime(spec.Runtime, spec.CodeDir))
}

// write writes the shipped bootstraps into the runtime directory.
func (rt *runtimeFiles) write() (string, error) {
	rt.writeOnce.Do(func() {
		if err := os.MkdirAll(rt.dir, 0o755); err != nil {
			rt.writeErr = fmt.Errorf("create the runtime directory: %w", err)
			return
		}
		for _, name := range []string{"python_bootstrap.py", "node_bootstrap.js"} {
			src, err := bootstraps.ReadFile("bootstrap/" + name)
			if err != nil {
				rt.writeErr = err
				return
			}
			dst := filepath.Join(rt.dir, name)
			if cur, err := os.ReadFile(dst); err == nil && bytes.Equal(cur, src) {
				continue
			}
			if err := atomicfile.Write(dst, src); err != nil {
				rt.writeErr = fmt.Errorf("write the %s bootstrap: %w", name, err)
				return
			}
		}
	})
	return rt.dir, rt.writeErr
}

// pythonPath finds python3 and resolves it to the interpreter itself, so
// that a version manager's shim (pyenv) is not run on every cold start.
func (rt *runtimeFiles) pythonPath() (string, error) {
	rt.pythonOnce.Do(func() {
		shim, err := exec.LookPath("python3")
		if err != nil {
			rt.pythonErr = fmt.Errorf("%w: python runtimes need python3 on the PATH of the machine running Sluice; none was found", errRuntimeUnavailable)
			return
		}
		rt.python = shim
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, shim, "-c", "import sys; print(sys.executable)").Output()
		if p := strings.TrimSpace(string(out)); err == nil && p != "" {
			rt.python = p
		}
	})
	return rt.python, rt.pythonErr
}

func (rt *runtimeFiles) nodePath() (string, error) {
	rt.nodeOnce.Do(func() {
		p, err := exec.LookPath("node")
		if err != nil {
			rt.nodeErr = fmt.Errorf("%w: nodejs runtimes need node on the PATH of the machine running Sluice; none was found", errRuntimeUnavailable)
			return
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		rt.node = p
	})
	return rt.node, rt.nodeErr
}
