package cloudfront

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
)

// Config configures a Plane. Zero values take the documented defaults.
type Config struct {
	// DataDir holds the model (state.json). Required; created if missing.
	DataDir string
	// AccountID is the account in distribution ARNs. Default "000000000000".
	AccountID string
	// Clock stamps LastModifiedTime and decides when a change is
	// Deployed. Default time.Now.
	Clock func() time.Time
	// Logger receives the local CloudFront's events. Nil discards them.
	Logger *slog.Logger
	// Functions resolves associated function versions, to check them as
	// CloudFront does before it accepts a configuration (the local
	// Lambda's control plane). Nil accepts any numbered version ARN.
	Functions invoke.Resolver
	// Invoker runs the associated versions for the edge proxy (the local
	// Lambda's data plane). Required by StartEdge and EdgeHandler.
	Invoker Invoker
	// DeployDelay is how long a created or changed distribution is
	// InProgress before it is Deployed. Default 2s; negative is at once.
	DeployDelay time.Duration
	// Rand draws the continuous-deployment weight: a value in [0, 1); a
	// draw below the policy's Weight is served by the staging
	// distribution. It must be safe for concurrent use. Default
	// math/rand/v2.Float64.
	Rand func() float64
}

// Invoker runs a function version synchronously; *invoke.Invoker is one.
type Invoker interface {
	Invoke(ctx context.Context, function, qualifier string, payload []byte, maxTimeout time.Duration) (invoke.Result, error)
}

// distribution is one distribution as stored.
type distribution struct {
	ID         string    `json:"id"`
	ETag       string    `json:"etag"`
	DomainName string    `json:"domainName"`
	Modified   time.Time `json:"lastModified"`
	// DeployedAt is when the last change is Deployed: Status is
	// InProgress before it. A clock comparison, so a restart loses nothing.
	DeployedAt time.Time `json:"deployedAt"`
	Config     *node     `json:"config"` // the DistributionConfig element, whole

	parsed *distConfig // derived from Config when loaded or changed
}

// policy is one continuous-deployment policy as stored.
type policy struct {
	ID       string    `json:"id"`
	ETag     string    `json:"etag"`
	Modified time.Time `json:"lastModified"`
	Config   *node     `json:"config"` // the ContinuousDeploymentPolicyConfig element

	parsed *policyConfig
}

// model is everything the local CloudFront keeps, written whole after
// every change.
type model struct {
	Format        int                      `json:"format"`
	Distributions map[string]*distribution `json:"distributions"`
	Policies      map[string]*policy       `json:"policies"`
}

const (
	stateFile   = "state.json"
	stateFormat = 1
)

// Plane is the local CloudFront: the control plane's model and API, and
// the edge proxy that serves its distributions. It is safe for
// concurrent use.
type Plane struct {
	cfg Config
	log *slog.Logger

	mu sync.RWMutex
	m  model

	origin *http.Client // the edge proxy's client for origins

	edgeMu sync.Mutex
	edges  []*http.Server
	closed bool
}

// Open loads the model under cfg.DataDir, or starts an empty one.
func Open(cfg Config) (*Plane, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("local CloudFront: Config.DataDir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create the local CloudFront's data directory: %w", err)
	}
	cfg.AccountID = cmp.Or(cfg.AccountID, "000000000000")
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	switch {
	case cfg.DeployDelay == 0:
		cfg.DeployDelay = 2 * time.Second
	case cfg.DeployDelay < 0:
		cfg.DeployDelay = 0
	}
	if cfg.Rand == nil {
		cfg.Rand = mrand.Float64
	}
	p := &Plane{cfg: cfg, log: cfg.Logger, origin: newOriginClient(), m: model{Format: stateFormat, Distributions: map[string]*distribution{}, Policies: map[string]*policy{}}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, stateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("read the local CloudFront's state: %w", err)
	}
	var m model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read the local CloudFront's state %s: %w", filepath.Join(cfg.DataDir, stateFile), err)
	}
	if m.Format != stateFormat {
		return nil, fmt.Errorf("the local CloudFront's state %s has format %d; this Sluice reads format %d", filepath.Join(cfg.DataDir, stateFile), m.Format, stateFormat)
	}
	for id, d := range m.Distributions {
		if d.parsed, err = asErr(parseDistConfig(d.Config)); err != nil {
			return nil, fmt.Errorf("stored distribution %s: %w", id, err)
		}
	}
	for id, pol := range m.Policies {
		if pol.parsed, err = asErr(parsePolicyConfig(pol.Config)); err != nil {
			return nil, fmt.Errorf("stored continuous-deployment policy %s: %w", id, err)
		}
	}
	if m.Distributions == nil {
		m.Distributions = map[string]*distribution{}
	}
	if m.Policies == nil {
		m.Policies = map[string]*policy{}
	}
	p.m = m
	return p, nil
}

// asErr turns a nil *apiError into a nil error.
func asErr[T any](v T, err *apiError) (T, error) {
	if err != nil {
		return v, err
	}
	return v, nil
}

// save writes the model crash-safely; the caller holds mu.
func (p *Plane) save() error {
	b, err := json.Marshal(&p.m)
	if err != nil {
		return fmt.Errorf("encode the local CloudFront's state: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(p.cfg.DataDir, stateFile), b); err != nil {
		return fmt.Errorf("write the local CloudFront's state: %w", err)
	}
	return nil
}

// newOriginClient is the edge proxy's HTTP client: it does not follow
// redirects (the viewer gets them, as from CloudFront) and keeps
// connections to origins alive.
func newOriginClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (p *Plane) originClient() *http.Client { return p.origin }

// Close stops the edge proxies StartEdge started.
func (p *Plane) Close() {
	p.edgeMu.Lock()
	p.closed = true
	edges := p.edges
	p.edges = nil
	p.edgeMu.Unlock()
	defer p.origin.CloseIdleConnections()
	for _, srv := range edges {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		cancel()
	}
}

// StartEdge serves the edge proxy on addr, a loopback address ("" is
// 127.0.0.1 on a free port), until Close or ctx is done.
func (p *Plane) StartEdge(ctx context.Context, addr string) (net.Addr, error) {
	addr = cmp.Or(addr, "127.0.0.1:0")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("edge proxy address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("edge proxy address %q: must be a loopback address (127.0.0.1, ::1 or localhost): it runs functions as you", addr)
	}
	if p.cfg.Invoker == nil {
		return nil, errors.New("edge proxy: Config.Invoker is required")
	}
	p.edgeMu.Lock()
	defer p.edgeMu.Unlock()
	if p.closed {
		return nil, errors.New("edge proxy: Start after Close")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("edge proxy listen: %w", err)
	}
	srv := &http.Server{Handler: p.EdgeHandler(), ReadHeaderTimeout: 30 * time.Second}
	p.edges = append(p.edges, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("local cloudfront: edge proxy", "err", err)
		}
	}()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	p.log.Info("local cloudfront: edge proxy listening", "url", "http://"+ln.Addr().String())
	return ln.Addr(), nil
}

// newID is a CloudFront-style identifier: "E" and 13 upper-case letters
// and digits (distribution IDs and ETags look alike).
func newID() string { return randomName('E', "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") }

// newDomainName is a distribution's domain name, dXXXXXXXXXXXXX.cloudfront.net.
func newDomainName() string {
	return randomName('d', "abcdefghijklmnopqrstuvwxyz0123456789") + ".cloudfront.net"
}

// randomName is first and 13 random characters of alphabet.
func randomName(first byte, alphabet string) string {
	b := make([]byte, 14)
	_, _ = rand.Read(b)
	b[0] = first
	for i := 1; i < len(b); i++ {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// status is a distribution's Status at now.
func (d *distribution) status(now time.Time) string {
	if now.Before(d.DeployedAt) {
		return "InProgress"
	}
	return "Deployed"
}

func (p *Plane) arn(id string) string {
	return "arn:aws:cloudfront::" + p.cfg.AccountID + ":distribution/" + id
}

const timeFormat = "2006-01-02T15:04:05.000Z"
