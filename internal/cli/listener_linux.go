package cli

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// listenerIsMine reports whether every socket listening on TCP port on
// this machine belongs to this user, and at least one does: the kernel's
// socket tables (/proc/net/tcp, tcp6) say who owns each. The CLI checks it
// before it reads the admin token file a server on that port names, so
// that another user's process squatting the port cannot have it sent over.
func listenerIsMine(port int) bool {
	uid := strconv.Itoa(os.Getuid())
	found := false
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid …
			fields := strings.Fields(sc.Text())
			if len(fields) < 8 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
				continue
			}
			if fields[7] != uid {
				f.Close()
				return false
			}
			found = true
		}
		f.Close()
	}
	return found
}
