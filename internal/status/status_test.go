package status

import (
	"slices"
	"testing"
)

func TestPredicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s                       Status
		complete, active, fails bool
	}{
		{NotStarted, false, false, false},
		{Running, false, true, false},
		{Paused, false, true, false},
		{Succeeded, true, false, false},
		{FailedContinue, true, false, true},
		{Terminal, true, false, true},
		{Canceled, true, false, false},
		{Stopped, true, false, true},
		{Skipped, true, false, false},
		{"", false, false, false},
		{"running", false, false, false},
	}
	for _, tt := range tests {
		if got := tt.s.Complete(); got != tt.complete {
			t.Errorf("%q.Complete() = %v, want %v", tt.s, got, tt.complete)
		}
		if got := tt.s.Active(); got != tt.active {
			t.Errorf("%q.Active() = %v, want %v", tt.s, got, tt.active)
		}
		if got := tt.s.Failed(); got != tt.fails {
			t.Errorf("%q.Failed() = %v, want %v", tt.s, got, tt.fails)
		}
	}
}

func TestAllAreKnown(t *testing.T) {
	t.Parallel()
	all := All()
	if len(all) != 9 {
		t.Errorf("All() has %d statuses, want 9: %v", len(all), all)
	}
	for i, s := range all {
		if !s.Known() {
			t.Errorf("%q is in All() but not Known", s)
		}
		if slices.Contains(all[i+1:], s) {
			t.Errorf("%q is in All() twice", s)
		}
	}
	for _, s := range []Status{"", "running", "DONE", "BUFFERED"} {
		if s.Known() {
			t.Errorf("%q is Known", s)
		}
	}
	all[0] = "changed"
	if All()[0] != NotStarted {
		t.Error("All() returns a slice that callers can change for everyone")
	}
}
