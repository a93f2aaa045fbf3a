package cli

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// TestListenerIsMine checks the kernel's word on who listens on a port: a
// socket of this process is this user's; a port nobody listens on is not;
// and a socket of another user (nobody, when the test runs as root and can
// start one) is not.
func TestListenerIsMine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if !listenerIsMine(port) {
		t.Errorf("port %d, which this process listens on, is not taken for this user's", port)
	}
	ln.Close()
	if listenerIsMine(port) {
		t.Errorf("port %d, which nobody listens on, is taken for this user's", port)
	}

	setpriv, err := exec.LookPath("setpriv")
	if os.Getuid() != 0 || err != nil {
		t.Skip("starting another user's listener needs root and setpriv")
	}
	// The system's python (a user's, such as pyenv's under /root, is not
	// for nobody to run).
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3 to listen as another user")
	}
	// Find a free port, then have nobody listen on it.
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
		"import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',"+strconv.Itoa(port)+"))\ns.listen()\ntime.sleep(60)")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	sluicetest.WaitFor(t, "nobody's listener", 0, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if listenerIsMine(port) {
		t.Errorf("port %d, which the user nobody listens on, is taken for this user's", port)
	}
}
