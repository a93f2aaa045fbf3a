package lambdatest

import "sync"

// ActivationGate holds activations (and event source mapping transitions)
// until released, so a test can observe Pending / InProgress / Creating.
// Its Wait is the control plane's BeforeActivation hook.
type ActivationGate struct {
	mu      sync.Mutex
	open    bool
	release chan struct{}
}

// NewActivationGate returns a closed gate.
func NewActivationGate() *ActivationGate { return &ActivationGate{release: make(chan struct{})} }

// Wait blocks while the gate is closed.
func (g *ActivationGate) Wait(string, string) {
	g.mu.Lock()
	ch, open := g.release, g.open
	g.mu.Unlock()
	if !open {
		<-ch
	}
}

// Hold makes the gate hold activations again.
func (g *ActivationGate) Hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.open {
		g.open, g.release = false, make(chan struct{})
	}
}

// Open lets every held and future activation through.
func (g *ActivationGate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		g.open = true
		close(g.release)
	}
}
