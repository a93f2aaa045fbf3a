package sqs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Mapping is an enabled SQS event source mapping as the Poller needs it.
type Mapping struct {
	UUID string
	// Function and Qualifier are what to invoke ("" qualifier: $LATEST).
	Function, Qualifier string
	// QueueARN is the mapping's EventSourceArn.
	QueueARN string
	// BatchSize (1 to 10,000) and BatchingWindow
	// (MaximumBatchingWindowInSeconds) shape a batch.
	BatchSize      int
	BatchingWindow time.Duration
	// ReportBatchItemFailures is FunctionResponseTypes
	// [ReportBatchItemFailures].
	ReportBatchItemFailures bool
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency; 0 is unset.
	MaximumConcurrency int
}

// pollers is how many batches of a mapping are in flight at once, as
// Lambda starts an SQS mapping: five concurrent batches (it scales up
// from there on AWS; the local Lambda does not), or fewer with
// ScalingConfig.MaximumConcurrency.
const pollers = 5

// InvokeFunc invokes a function synchronously with payload, as
// RequestResponse: what the invocation returned, or an error when it
// could not run (no such function, throttled, not Active).
type InvokeFunc func(ctx context.Context, function, qualifier string, payload []byte) (Invocation, error)

// Invocation is what an InvokeFunc returns of an invocation that ran.
type Invocation struct {
	Response []byte
	// FunctionError is whether the function failed (X-Amz-Function-Error).
	FunctionError bool
	// Settled, if set, is told how the batch ended: how many messages the
	// invocation was given and how many of them failed (all of them when
	// the invocation failed or its batchItemFailures were invalid, the
	// batchItemFailures with ReportBatchItemFailures). The local Lambda
	// counts them in the executed version's metrics.
	Settled func(messages, failed int)
}

func (in Invocation) settled(messages, failed int) {
	if in.Settled != nil {
		in.Settled(messages, failed)
	}
}

// PollerConfig configures a Poller; every field but Logger is required.
type PollerConfig struct {
	Service *Service
	// Mappings lists the mappings to deliver for: the enabled ones whose
	// source is a queue of this Service. Sync reads it.
	Mappings func() []Mapping
	Invoke   InvokeFunc
	// Report records a mapping's LastProcessingResult.
	Report func(uuid, result string)
	Logger *slog.Logger
}

// Poller delivers queue messages to functions, one goroutine per enabled
// mapping, as Lambda's SQS pollers do: receive up to BatchSize messages
// (waiting up to BatchingWindow to fill the batch), invoke the function
// with them, delete them when it succeeds, leave them to come back after
// the queue's visibility timeout when it fails (so the queue's redrive
// policy applies), and with ReportBatchItemFailures delete all but the
// failures the function names.
//
// Nothing is held in memory that a crash would lose: a message is
// deleted only after the invocation that processed it returned, so a
// crash between the two delivers it again (at least once, as on AWS).
type Poller struct {
	cfg PollerConfig
	log *slog.Logger

	mu      sync.Mutex
	loops   map[string]*pollLoop // by mapping UUID
	closed  bool
	stopped sync.WaitGroup
}

type pollLoop struct {
	m      Mapping
	cancel context.CancelFunc
	done   chan struct{}
}

// NewPoller returns a Poller that delivers nothing until Sync.
func NewPoller(cfg PollerConfig) *Poller {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Poller{cfg: cfg, log: log, loops: map[string]*pollLoop{}}
}

// Sync starts a loop for each mapping Mappings lists that has none (or
// whose settings changed) and stops the loops of the mappings it no
// longer lists. A stopped loop finishes the batch it is delivering.
func (p *Poller) Sync() {
	want := map[string]Mapping{}
	for _, m := range p.cfg.Mappings() {
		want[m.UUID] = m
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for id, l := range p.loops {
		if m, ok := want[id]; !ok || m != l.m {
			l.cancel()
			delete(p.loops, id)
		}
	}
	for id, m := range want {
		if p.loops[id] != nil {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		l := &pollLoop{m: m, cancel: cancel, done: make(chan struct{})}
		p.loops[id] = l
		p.stopped.Add(1)
		go func() {
			defer p.stopped.Done()
			defer close(l.done)
			p.run(ctx, m)
		}()
	}
}

// Stop stops every loop without waiting: a loop finishes the invocation
// it is in (Close waits for that). Sync does nothing after Stop.
func (p *Poller) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, l := range p.loops {
		l.cancel()
		delete(p.loops, id)
	}
}

// Close stops every loop and waits for them.
func (p *Poller) Close() {
	p.Stop()
	p.stopped.Wait()
}

// Running reports the UUIDs of the mappings being delivered (for tests).
func (p *Poller) Running() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id := range p.loops {
		ids = append(ids, id)
	}
	return ids
}

// Results written to LastProcessingResult, as Lambda writes them.
const (
	resultOK             = "OK"
	resultFunctionFailed = "PROBLEM: Function call failed"
)

// pollWait is the long poll of each receive.
const pollWait = 20 * time.Second

func (p *Poller) run(ctx context.Context, m Mapping) {
	log := p.log.With("mapping", m.UUID, "queue", m.QueueARN, "function", m.Function)
	log.Debug("local sqs: delivering to the function")
	n := pollers
	if m.MaximumConcurrency > 0 {
		n = min(n, m.MaximumConcurrency)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.poll(ctx, log, m)
		}()
	}
	wg.Wait()
}

// poll is one of a mapping's pollers: receive a batch, deliver it, again.
func (p *Poller) poll(ctx context.Context, log *slog.Logger, m Mapping) {
	backoff := func() bool {
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	lastErr := ""
	for ctx.Err() == nil {
		batch, err := p.collect(ctx, m)
		if len(batch) > 0 {
			// Delivered even when the loop is stopping (the mapping was
			// disabled or deleted): it was received, and would otherwise
			// wait out its visibility timeout.
			if !p.deliver(ctx, log, m, batch) && !backoff() {
				return
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if err.Error() != lastErr {
				level := slog.LevelWarn
				if errors.Is(err, ErrQueueDoesNotExist) {
					level = slog.LevelDebug
				}
				log.Log(ctx, level, "local sqs: receive for an event source mapping", "err", err)
				lastErr = err.Error()
			}
			// A mapping to a queue the local SQS does not have (created
			// for AWS, or before its queue) waits for it; it has processed
			// no records, and says so.
			if !errors.Is(err, ErrQueueDoesNotExist) {
				p.cfg.Report(m.UUID, "PROBLEM: "+asError(err).Message)
			}
			if !backoff() {
				return
			}
			continue
		}
		lastErr = ""
	}
}

// collect receives a batch: up to BatchSize messages, waiting for the
// first as long as it takes (in long polls), then up to BatchingWindow
// for more.
func (p *Poller) collect(ctx context.Context, m Mapping) ([]Message, error) {
	size := max(m.BatchSize, 1)
	var batch []Message
	var deadline time.Time
	for len(batch) < size {
		wait := pollWait
		if len(batch) > 0 {
			wait = time.Until(deadline)
			if wait <= 0 {
				break
			}
		}
		msgs, err := p.cfg.Service.Receive(ctx, m.QueueARN, min(size-len(batch), 10), nil, wait)
		if err != nil {
			if len(batch) > 0 {
				return batch, nil
			}
			return nil, err
		}
		if len(batch) == 0 && len(msgs) > 0 {
			deadline = time.Now().Add(m.BatchingWindow)
		}
		batch = append(batch, msgs...)
		if len(batch) == 0 {
			return nil, nil // a long poll ended empty: poll again
		}
		if m.BatchingWindow <= 0 && len(msgs) < 10 {
			break // no window: a receive that did not fill up ends the batch
		}
	}
	return batch, nil
}

// deliver invokes the function with batch and settles its messages; it
// reports whether the function ran.
func (p *Poller) deliver(ctx context.Context, log *slog.Logger, m Mapping, batch []Message) bool {
	payload := p.event(m, batch)
	inv, err := p.cfg.Invoke(context.WithoutCancel(ctx), m.Function, m.Qualifier, payload)
	resp, failed := inv.Response, inv.FunctionError
	switch {
	case err != nil && ctx.Err() != nil:
		return false // stopping: the invoker is closing; the batch comes back
	case err != nil:
		log.Warn("local sqs: invoke for an event source mapping", "err", err)
		p.cfg.Report(m.UUID, "PROBLEM: Function call failed: "+err.Error())
		return false
	case failed:
		log.Info("local sqs: the function failed a batch; its messages return after the visibility timeout", "messages", len(batch))
		p.cfg.Report(m.UUID, resultFunctionFailed)
		inv.settled(len(batch), len(batch))
		return true
	}
	keep := map[string]bool{}
	if m.ReportBatchItemFailures {
		var ok bool
		if keep, ok = batchItemFailures(resp, batch); !ok {
			log.Info("local sqs: the function's batchItemFailures name no message of the batch; the whole batch fails", "response", string(resp))
			p.cfg.Report(m.UUID, resultFunctionFailed)
			inv.settled(len(batch), len(batch))
			return true
		}
	}
	var handles []string
	for _, msg := range batch {
		if !keep[msg.MessageID] {
			handles = append(handles, msg.ReceiptHandle)
		}
	}
	if err := p.cfg.Service.deleteMany(context.WithoutCancel(ctx), m.QueueARN, handles); err != nil {
		log.Warn("local sqs: delete a delivered batch", "err", err)
	}
	// The invocation succeeded: OK, even when it reported some messages
	// as failed (they return to the queue).
	p.cfg.Report(m.UUID, resultOK)
	inv.settled(len(batch), len(keep))
	return true
}

// batchItemFailures reads a ReportBatchItemFailures response as Lambda
// does: an empty or null response, one that is not a JSON object, or an
// empty or null batchItemFailures list is complete success; a failure
// whose itemIdentifier is empty or names no message of the batch fails
// the whole batch (ok false).
func batchItemFailures(resp []byte, batch []Message) (failed map[string]bool, ok bool) {
	failed = map[string]bool{}
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if len(bytes.TrimSpace(resp)) == 0 || json.Unmarshal(resp, &r) != nil {
		return failed, true
	}
	ids := map[string]bool{}
	for _, m := range batch {
		ids[m.MessageID] = true
	}
	for _, f := range r.BatchItemFailures {
		if f.ItemIdentifier == nil || !ids[*f.ItemIdentifier] {
			return nil, false
		}
		failed[*f.ItemIdentifier] = true
	}
	return failed, true
}

// sqsEvent is the event Lambda sends for a batch of SQS messages.
type sqsEvent struct {
	Records []sqsRecord `json:"Records"`
}

type sqsRecord struct {
	MessageID              string                    `json:"messageId"`
	ReceiptHandle          string                    `json:"receiptHandle"`
	Body                   string                    `json:"body"`
	Attributes             map[string]string         `json:"attributes"`
	MessageAttributes      map[string]eventAttribute `json:"messageAttributes"`
	MD5OfMessageAttributes *string                   `json:"md5OfMessageAttributes"`
	MD5OfBody              string                    `json:"md5OfBody"`
	EventSource            string                    `json:"eventSource"`
	EventSourceARN         string                    `json:"eventSourceARN"`
	AWSRegion              string                    `json:"awsRegion"`
}

type eventAttribute struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues []string `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

// eventSystemAttributes are the system attributes a record carries.
var eventSystemAttributes = []string{
	"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp",
	"SequenceNumber", "MessageGroupId", "MessageDeduplicationId", "AWSTraceHeader", "DeadLetterQueueSourceArn",
}

func (p *Poller) event(m Mapping, batch []Message) []byte {
	ev := sqsEvent{Records: make([]sqsRecord, 0, len(batch))}
	for _, msg := range batch {
		r := sqsRecord{MessageID: msg.MessageID, ReceiptHandle: msg.ReceiptHandle, Body: msg.Body, MD5OfBody: msg.MD5OfBody,
			Attributes: map[string]string{}, MessageAttributes: map[string]eventAttribute{},
			EventSource: "aws:sqs", EventSourceARN: m.QueueARN, AWSRegion: p.cfg.Service.cfg.Region}
		for _, k := range eventSystemAttributes {
			if v, ok := msg.Attributes[k]; ok {
				r.Attributes[k] = v
			}
		}
		for k, v := range msg.MessageAttributes {
			a := eventAttribute{DataType: v.DataType, StringListValues: []string{}, BinaryListValues: []string{}}
			if strings.HasPrefix(v.DataType, "Binary") {
				a.BinaryValue = v.BinaryValue
			} else {
				s := v.StringValue
				a.StringValue = &s
			}
			r.MessageAttributes[k] = a
		}
		if msg.MD5OfMessageAttributes != "" {
			md5 := msg.MD5OfMessageAttributes
			r.MD5OfMessageAttributes = &md5
		}
		ev.Records = append(ev.Records, r)
	}
	b, _ := json.Marshal(ev)
	return b
}
