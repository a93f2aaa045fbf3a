package sluicetest

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartPrometheus runs a real Prometheus (Debian's prometheus package,
// which .ci/run installs) on a TSDB backfilled by promtool from
// openMetrics, and returns its URL.
func StartPrometheus(t testing.TB, openMetrics string) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	om := filepath.Join(dir, "samples.om")
	if err := os.WriteFile(om, []byte(openMetrics), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool := lookPrometheus(t, "promtool")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", om, data).CombinedOutput(); err != nil {
		t.Fatalf("promtool: %v\n%s", err, out)
	}
	return runPrometheus(t, dir, data, "global: {}\n")
}

// StartPrometheusScraping runs a real Prometheus that scrapes target (a
// URL with its path, e.g. http://127.0.0.1:1234/metrics) every 500ms with
// the bearer token in tokenFile, and returns its URL.
func StartPrometheusScraping(t testing.TB, target, tokenFile string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global: {scrape_interval: 500ms, scrape_timeout: 400ms}
scrape_configs:
  - job_name: sluice
    scheme: %s
    metrics_path: %q
    authorization: {credentials_file: %q}
    static_configs: [{targets: [%q]}]
`, u.Scheme, u.Path, tokenFile, u.Host)
	return runPrometheus(t, dir, filepath.Join(dir, "data"), cfg)
}

func lookPrometheus(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (apt-get install prometheus; .ci/run does)", name)
	}
	return bin
}

// runPrometheus runs Prometheus with the configuration cfg (written into
// dir) and its TSDB in data, until the test ends, and returns its URL once
// it is ready.
func runPrometheus(t testing.TB, dir, data, cfg string) string {
	t.Helper()
	bin := lookPrometheus(t, "prometheus")
	cfgFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.tsdb.path="+data, "--web.listen-address="+addr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	WaitFor(t, "prometheus to be ready", 30*time.Second, func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}
