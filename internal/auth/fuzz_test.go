package auth_test

import (
	"encoding/json"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cd/sluice/internal/auth"
)

// The resource oracle of FuzzParseConfig: sluice.yaml is read at start-up
// from a file an operator writes, but a config that takes seconds or
// gigabytes to read (a YAML alias bomb) must still fail fast and small.
const (
	fuzzConfigTime   = time.Second
	fuzzConfigMemory = 64 << 20
	// fuzzConfigBytes bounds the inputs; sluice.yaml files are a few KiB.
	fuzzConfigBytes = 64 << 10
)

func allocatedBytes() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// FuzzParseConfig: ParseConfig never panics, stays within the resource
// oracle, names the auth section in every error, and a config it accepts
// encodes to one it reads back the same.
func FuzzParseConfig(f *testing.F) {
	for _, seed := range []string{
		policyYAML,
		"auth:\n  admins: [root, '']\n  sessionTtl: x\n",
		"auth: {applications: {'*': {read: [a]}, shop: {write: ['token:ci']}}, oidc: {issuer: x}}\n",
		"auth: [1]\n",
		"auth:\n  sessionTtl: 9223372036854775807ns\n",
		// An alias bomb.
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
			"auth: {admins: *f}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > fuzzConfigBytes {
			return
		}
		var (
			cfg auth.Config
			err error
		)
		before, start := allocatedBytes(), time.Now()
		cfg, err = auth.ParseConfig(doc)
		took, allocated := time.Since(start), allocatedBytes()-before
		if took > fuzzConfigTime {
			t.Fatalf("ParseConfig of %d bytes took %v, over %v", len(doc), took, fuzzConfigTime)
		}
		if allocated > fuzzConfigMemory {
			t.Fatalf("ParseConfig of %d bytes allocated %d bytes, over %d", len(doc), allocated, fuzzConfigMemory)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "auth") {
					t.Fatalf("error line %q does not name the auth section", line)
				}
			}
			return
		}
		if cfg.SessionTTL != "" {
			if d, err := time.ParseDuration(cfg.SessionTTL); err != nil || d < time.Minute {
				t.Fatalf("accepted sessionTtl %q", cfg.SessionTTL)
			}
		}
		first, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("encode %+v: %v", cfg, err)
		}
		again, err := auth.ParseConfig([]byte(`{"auth": ` + string(first) + `}`))
		if err != nil {
			t.Fatalf("the encoded config %s does not parse: %v", first, err)
		}
		second, _ := json.Marshal(again)
		if string(first) != string(second) {
			t.Fatalf("round trip changed the config:\nfirst:  %s\nsecond: %s", first, second)
		}
		auth.NewPolicy(cfg).IsAdmin(&auth.Principal{Name: "x"})
	})
}
