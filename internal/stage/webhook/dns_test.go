package webhook_test

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
)

// startDNS serves A records of names over UDP on loopback, and returns a
// resolver that asks it: a DNS that names a test chooses resolve through,
// as a rebinding attacker's would.
func startDNS(t *testing.T, names map[string]netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n], names); resp != nil {
				_, _ = pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// dnsAnswer answers one query: an A record for a known name, no record
// for anything else (AAAA included).
func dnsAnswer(q []byte, names map[string]netip.Addr) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	i++ // the root label
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	ip, known := names[strings.ToLower(strings.Join(labels, "."))]
	resp := make([]byte, 12, 64)
	copy(resp, q[:2])
	binary.BigEndian.PutUint16(resp[2:], 0x8180) // response, recursion available, no error
	binary.BigEndian.PutUint16(resp[4:], 1)
	resp = append(resp, question...)
	if known && qtype == 1 && ip.Is4() {
		binary.BigEndian.PutUint16(resp[6:], 1)
		a := ip.As4()
		resp = append(resp, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4)
		resp = append(resp, a[:]...)
	} else if !known {
		binary.BigEndian.PutUint16(resp[2:], 0x8183) // NXDOMAIN
	}
	return resp
}
