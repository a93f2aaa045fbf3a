package control

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"
)

// What the control plane offers the local Lambda's event delivery: the
// event source mappings as they stand, a signal when they change, and a
// place to record LastProcessingResult. Delivery itself (polling a local
// queue, invoking the function) is package sqs's Poller; the control
// plane only stores and settles mappings.

// MappingSnapshot is an event source mapping as delivery needs it.
type MappingSnapshot struct {
	UUID string
	// Function and Qualifier are what to invoke ("" qualifier: $LATEST).
	Function, Qualifier string
	EventSourceArn      string
	// State is Creating, Enabled, Disabled, Updating, Deleting, ….
	State                   string
	BatchSize               int
	BatchingWindow          time.Duration
	ReportBatchItemFailures bool
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency; 0 is unset.
	MaximumConcurrency int
}

// EventSourceMappings returns every mapping, by UUID.
func (cp *Plane) EventSourceMappings() []MappingSnapshot {
	var out []MappingSnapshot
	_ = cp.st.read(func(m *catalog) error {
		for _, id := range slices.Sorted(maps.Keys(m.Mappings)) {
			e := m.Mappings[id]
			s := MappingSnapshot{UUID: e.UUID, Function: e.Function, Qualifier: e.Qualifier, EventSourceArn: e.EventSourceArn,
				State: string(e.State), BatchSize: e.BatchSize,
				ReportBatchItemFailures: slices.Contains(e.FunctionResponseTypes, "ReportBatchItemFailures")}
			var sc struct{ MaximumConcurrency int }
			if len(e.ScalingConfig) > 0 && json.Unmarshal(e.ScalingConfig, &sc) == nil {
				s.MaximumConcurrency = sc.MaximumConcurrency
			}
			if w := e.MaximumBatchingWindowInSeconds; w != nil {
				s.BatchingWindow = time.Duration(*w) * time.Second
			}
			out = append(out, s)
		}
		return nil
	})
	return out
}

var errUnchanged = errors.New("unchanged")

// SetMappingResult records a mapping's LastProcessingResult ("OK",
// "PROBLEM: Function call failed", …); the snapshot is written only when
// it changes.
func (cp *Plane) SetMappingResult(uuid, result string) {
	err := cp.st.write(func(m *catalog) error {
		e := m.Mappings[uuid]
		if e == nil || e.LastProcessingResult == result {
			return errUnchanged
		}
		e.LastProcessingResult = result
		return nil
	})
	if err != nil && !errors.Is(err, errUnchanged) {
		cp.log.Error("local lambda: record an event source mapping's result", "uuid", uuid, "err", err)
	}
}

// mappingsChanged tells delivery that the mappings changed.
func (cp *Plane) mappingsChanged() {
	if f := cp.cfg.MappingsChanged; f != nil {
		f()
	}
}
