package sluicetest

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// StartMoto starts moto_server, the independent AWS peer the tests hold
// Sluice's AWS calls against, as a child process on a free loopback port,
// and returns its endpoint; it stops with the test. It skips the test when
// moto_server is not on PATH, saying what for.
func StartMoto(tb testing.TB, what string) string {
	tb.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		tb.Skipf("moto_server is not on PATH: %s are skipped (pip install 'moto[server]' to run them)", what)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	// moto_server may be a shim (pyenv's) that runs Python as its child:
	// the whole process group is killed, or the server outlives the test.
	killGroup := ownProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start moto_server: %v", err)
	}
	tb.Cleanup(func() {
		killGroup()
		cmd.Wait()
		http.DefaultClient.CloseIdleConnections()
	})
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	WaitFor(tb, "moto_server to answer on "+endpoint, 30*time.Second, func() bool {
		resp, err := http.Get(endpoint + "/moto-api/data.json")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	return endpoint
}
