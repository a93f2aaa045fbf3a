package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestMain makes the test binary double as the sluice command: scripts run
// it as a real process with `exec sluice …`.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"sluice": main,
		// The demo away from a checkout runs this binary as its function.
		"bootstrap": main,
	})
}

// waitTimeout bounds every wait* command of the scripts.
const waitTimeout = 60 * time.Second

// TestScripts runs the CLI scripts in testdata/script. Each script gets a
// fresh work directory; those that need a server start one in the
// background on a free port:
//
//	exec sluice serve --addr 127.0.0.1:0 --addr-file $WORK/addr --data-dir $WORK/data &
//	waitserver $WORK/addr
//
// The CLI then finds the server's admin token by itself, as it does for a
// user on the server's machine; scripts set $SLUICE_TOKEN or --token to act
// as someone else. $HOME is a directory of the script's own, so `sluice
// login` saves there.
//
// Extra commands (see scriptCmds): waitserver, exitcode, envstdout, waitfor,
// waitexec, gencert, zip.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, ".home")
			if err := os.Mkdir(home, 0o700); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			// The demo builds a function with the go command: give it this
			// test's build and module caches, or every run builds and
			// downloads everything again under the fresh $HOME.
			for k, v := range goEnv() {
				env.Setenv(k, v)
			}
			env.Setenv("SLUICE_SERVER", "http://127.0.0.1:1") // nothing listens there until waitserver
			env.Setenv("TERM", "dumb")
			// The demo builds the example function from the source tree.
			src, err := filepath.Abs("../..")
			if err != nil {
				return err
			}
			env.Setenv("SLUICE_SOURCE", src)
			return nil
		},
		Cmds: scriptCmds(),
	})
}

func scriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		// waitserver ADDRFILE: wait for `sluice serve --addr-file` to write
		// its URL and for the server to answer /health, then point
		// $SLUICE_SERVER at it, set $SLUICE_ADDR to its host:port and
		// $SLUICE_LAMBDA_URL to its local Lambda's URL (empty when it runs
		// none). An https server must have a certificate in $SSL_CERT_FILE.
		"waitserver": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: waitserver ADDRFILE")
			}
			file := ts.MkAbs(args[0])
			var url string
			waitUntil(ts, "the server's address file "+args[0], func() (bool, error) {
				data, err := os.ReadFile(file)
				if errors.Is(err, os.ErrNotExist) {
					return false, nil
				}
				url = strings.TrimSpace(string(data))
				return url != "", err
			})
			c, err := apiclient.New(url, apiclient.WithHTTPClient(scriptHTTPClient(ts)))
			ts.Check(err)
			waitUntil(ts, "the server at "+url, func() (bool, error) {
				h, err := c.Health(context.Background())
				return err == nil && h.Status == "ok", nil
			})
			ts.Setenv("SLUICE_SERVER", url)
			_, addr, _ := strings.Cut(url, "://")
			ts.Setenv("SLUICE_ADDR", addr)
			h, err := c.Health(context.Background())
			ts.Check(err)
			ts.Setenv("SLUICE_LAMBDA_URL", h.LocalLambdaURL)
		},
		// deliver PATH BODYFILE SECRET [DELIVERY-ID]: POST the body to
		// $SLUICE_SERVER+PATH signed with the secret (X-Hub-Signature-256),
		// as a CI system or GitHub would; print the status and the answer.
		"deliver": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 3 || len(args) > 4 {
				ts.Fatalf("usage: deliver PATH BODYFILE SECRET [DELIVERY-ID]")
			}
			body, err := os.ReadFile(ts.MkAbs(args[1]))
			ts.Check(err)
			req, err := http.NewRequest(http.MethodPost, ts.Getenv("SLUICE_SERVER")+args[0], bytes.NewReader(body))
			ts.Check(err)
			req.Header.Set("Content-Type", "application/json")
			mac := hmac.New(sha256.New, []byte(args[2]))
			mac.Write(body)
			req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
			if len(args) == 4 {
				req.Header.Set("X-Sluice-Delivery", args[3])
			}
			resp, err := scriptHTTPClient(ts).Do(req)
			ts.Check(err)
			defer resp.Body.Close()
			answer, err := io.ReadAll(resp.Body)
			ts.Check(err)
			ts.Stdout().Write([]byte(strconv.Itoa(resp.StatusCode) + " " + string(answer) + "\n"))
		},
		// exitcode N PROGRAM ARGS...: run a program and require exit code N.
		"exitcode": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 2 {
				ts.Fatalf("usage: exitcode N PROGRAM [ARGS...]")
			}
			want, err := strconv.Atoi(args[0])
			ts.Check(err)
			got := 0
			if err := ts.Exec(args[1], args[2:]...); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					ts.Fatalf("%s: %v", args[1], err)
				}
				got = ee.ExitCode()
			}
			if got != want {
				ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
			}
		},
		// envstdout VAR: set VAR to the last command's stdout, trimmed.
		"envstdout": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: envstdout VAR")
			}
			ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
		},
		// waitfor EXECUTION [STAGE] STATUS: wait until the execution (or
		// its stage, by refId or name) has STATUS.
		"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 2 || len(args) > 3 {
				ts.Fatalf("usage: waitfor EXECUTION [STAGE] STATUS")
			}
			c := scriptClient(ts)
			id, want := args[0], args[len(args)-1]
			what := "execution " + id + " to be " + want
			if len(args) == 3 {
				what = "stage " + args[1] + " of " + what
			}
			var last string // the status the previous poll saw, logged on change
			seen := func(status string) {
				if status != last {
					ts.Logf("waitfor: %s", status)
					last = status
				}
			}
			waitUntil(ts, what, func() (bool, error) {
				e, err := c.GetExecution(context.Background(), id)
				if err != nil {
					return false, err
				}
				if len(args) == 2 {
					seen(string(e.Status))
					return string(e.Status) == want, nil
				}
				for _, s := range e.Stages {
					if s.RefID == args[1] || s.Name == args[1] {
						seen(string(s.Status))
						return string(s.Status) == want, nil
					}
				}
				return false, errors.New("no stage " + args[1])
			})
		},
		// waitexec VAR: wait until the server has an execution, and set VAR
		// to the newest's id (for one that a background command started).
		"waitexec": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: waitexec VAR")
			}
			c := scriptClient(ts)
			waitUntil(ts, "an execution", func() (bool, error) {
				page, err := c.ListExecutions(context.Background(), apiclient.ListOptions{Limit: 1})
				if err != nil || len(page.Executions) == 0 {
					return false, err
				}
				ts.Setenv(args[0], page.Executions[0].ID)
				return true, nil
			})
		},
		// zip ARCHIVE FILE...: write a zip archive holding the script's
		// files, by their base names and executable (a Lambda deployment
		// package whose bootstrap may run).
		"zip": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 2 {
				ts.Fatalf("usage: zip ARCHIVE FILE...")
			}
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			for _, name := range args[1:] {
				h := &zip.FileHeader{Name: filepath.Base(name), Method: zip.Deflate}
				h.SetMode(0o755)
				w, err := zw.CreateHeader(h)
				ts.Check(err)
				_, err = io.WriteString(w, ts.ReadFile(name))
				ts.Check(err)
			}
			ts.Check(zw.Close())
			ts.Check(os.WriteFile(ts.MkAbs(args[0]), buf.Bytes(), 0o644))
		},
		// gencert DIR: write a fresh self-signed certificate for localhost,
		// 127.0.0.1 and ::1 to DIR/cert.pem, and its key to DIR/key.pem.
		"gencert": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: gencert DIR")
			}
			dir := ts.MkAbs(args[0])
			ts.Check(os.MkdirAll(dir, 0o755))
			_, _, err := sluicetest.WriteSelfSignedCert(dir)
			ts.Check(err)
		},
	}
}

// goEnv returns the go command's cache and proxy settings, once.
var goEnv = sync.OnceValue(func() map[string]string {
	keys := []string{"GOCACHE", "GOMODCACHE", "GOPROXY", "GOFLAGS"}
	out, err := exec.Command("go", append([]string{"env"}, keys...)...).Output()
	if err != nil {
		return nil // the demo then builds without them
	}
	env := map[string]string{}
	for i, v := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if i < len(keys) && v != "" {
			env[keys[i]] = v
		}
	}
	return env
})

// scriptHTTPClient trusts the certificates in $SSL_CERT_FILE, as the
// script's sluice processes do, besides the system's.
func scriptHTTPClient(ts *testscript.TestScript) *http.Client {
	file := ts.Getenv("SSL_CERT_FILE")
	if file == "" {
		return http.DefaultClient
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ts.ReadFile(file))) {
		ts.Fatalf("$SSL_CERT_FILE %s holds no PEM certificate", file)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// scriptClient is an API client of $SLUICE_SERVER with the credential the
// CLI would find: $SLUICE_TOKEN, else the admin token the server names in
// /health.
func scriptClient(ts *testscript.TestScript) *apiclient.Client {
	url, hc := ts.Getenv("SLUICE_SERVER"), scriptHTTPClient(ts)
	token := ts.Getenv("SLUICE_TOKEN")
	if token == "" {
		c, err := apiclient.New(url, apiclient.WithHTTPClient(hc))
		ts.Check(err)
		h, err := c.Health(context.Background())
		ts.Check(err)
		if h.AdminTokenFile == "" {
			ts.Fatalf("the server at %s does not say where its admin token is", url)
		}
		token = strings.TrimSpace(ts.ReadFile(h.AdminTokenFile))
	}
	c, err := apiclient.New(url, apiclient.WithHTTPClient(hc), apiclient.WithToken(token))
	ts.Check(err)
	return c
}

// waitUntil polls cond until it reports true, fails, or waitTimeout passes.
func waitUntil(ts *testscript.TestScript, what string, cond func() (bool, error)) {
	deadline := time.Now().Add(waitTimeout)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 250*time.Millisecond) {
		ok, err := cond()
		if err != nil {
			ts.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("gave up waiting for %s after %v", what, waitTimeout)
		}
		time.Sleep(delay)
	}
}
