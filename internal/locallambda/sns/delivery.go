package sns

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Deliveries. Each owed delivery is a row of the deliveries table,
// written in the transaction of the Publish (or Subscribe, for a
// confirmation) that owes it, so an acknowledged publish is never lost.
// The loop below picks due rows, delivers them on up to Config.Workers
// goroutines, and deletes a row once its delivery succeeded or was given
// up; a failure is retried after Config.RetryDelays. A crash between a
// delivery and its row's deletion delivers again after restart: delivery
// is at least once, as on AWS.

// deliveryBatch bounds the due rows read at once.
const deliveryBatch = 32

func (s *Service) deliverLoop() {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := s.dispatchDue()
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

type dueDelivery struct {
	id       int64
	subARN   string
	message  message
	attempts int
}

// dispatchDue starts the due deliveries not under way and returns how
// long until the next one is due (0: none known, wait for a wake-up).
func (s *Service) dispatchDue() time.Duration {
	ctx := context.Background()
	now := s.cfg.Clock().UnixMilli()
	rows, err := s.db.QueryContext(ctx, `SELECT id, subscription_arn, message, attempts, due FROM deliveries ORDER BY due, id LIMIT ?`, deliveryBatch+s.cfg.Workers)
	if err != nil {
		s.log.Error("local sns: read owed deliveries", "err", err)
		return time.Second
	}
	var due []dueDelivery
	var next int64
	for rows.Next() {
		var d dueDelivery
		var raw string
		var at int64
		if err := rows.Scan(&d.id, &d.subARN, &raw, &d.attempts, &at); err != nil {
			s.log.Error("local sns: read an owed delivery", "err", err)
			continue
		}
		if at > now {
			if next == 0 || at < next {
				next = at
			}
			continue
		}
		if err := json.Unmarshal([]byte(raw), &d.message); err != nil {
			s.log.Error("local sns: drop an unreadable delivery", "id", d.id, "err", err)
			s.finish(d.id)
			continue
		}
		due = append(due, d)
	}
	rows.Close()
	busy := false
	for _, d := range due {
		s.mu.Lock()
		running := s.inFlight[d.id]
		if !running {
			s.inFlight[d.id] = true
		}
		s.mu.Unlock()
		if running {
			busy = true
			continue
		}
		select {
		case s.sem <- struct{}{}:
		case <-s.stop:
			s.mu.Lock()
			delete(s.inFlight, d.id)
			s.mu.Unlock()
			return 0
		}
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			defer func() {
				<-s.sem
				s.mu.Lock()
				delete(s.inFlight, d.id)
				s.mu.Unlock()
				s.signal()
			}()
			s.attempt(d)
		}()
	}
	if len(due) == deliveryBatch+s.cfg.Workers && !busy {
		return time.Millisecond
	}
	if next > 0 {
		return max(time.Duration(next-now)*time.Millisecond, time.Millisecond)
	}
	return 0
}

// attempt makes one delivery attempt and records its outcome.
func (s *Service) attempt(d dueDelivery) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := getSubscription(ctx, s.db, d.subARN)
	if err != nil {
		s.log.Error("local sns: read a subscription", "subscription", d.subARN, "err", err)
		return
	}
	if sub == nil {
		s.finish(d.id) // unsubscribed since
		return
	}
	err = s.deliver(ctx, sub, &d.message)
	if err == nil {
		s.log.Debug("local sns: delivered", "subscription", sub.ARN, "protocol", sub.Protocol, "messageId", d.message.MessageID)
		s.finish(d.id)
		return
	}
	select {
	case <-s.stop:
		return // stopping: the row stays, and is delivered after restart
	default:
	}
	if d.attempts >= len(s.cfg.RetryDelays) {
		s.log.Warn("local sns: delivery given up", "subscription", sub.ARN, "protocol", sub.Protocol, "endpoint", sub.Endpoint,
			"messageId", d.message.MessageID, "attempts", d.attempts+1, "err", err)
		s.redrive(ctx, sub, &d.message)
		s.finish(d.id)
		return
	}
	delay := s.cfg.RetryDelays[d.attempts]
	s.log.Info("local sns: delivery will be retried", "subscription", sub.ARN, "protocol", sub.Protocol, "in", delay, "err", err)
	if _, err := s.db.ExecContext(ctx, `UPDATE deliveries SET attempts = attempts + 1, due = ? WHERE id = ?`,
		s.cfg.Clock().Add(delay).UnixMilli(), d.id); err != nil {
		s.log.Error("local sns: reschedule a delivery", "id", d.id, "err", err)
	}
}

// redrive sends a notification whose delivery was given up to the
// subscription's dead-letter queue (RedrivePolicy's
// deadLetterTargetArn), if it has one: the message as it would have been
// delivered (raw or the envelope), as AWS does.
func (s *Service) redrive(ctx context.Context, sub *subscription, m *message) {
	var rp struct {
		DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	}
	if m.Type != typeNotification || json.Unmarshal([]byte(sub.Attributes["RedrivePolicy"]), &rp) != nil || rp.DeadLetterTargetArn == "" {
		return
	}
	var err error
	switch {
	case s.cfg.Queues == nil:
		err = errors.New("no local SQS is configured")
	case sub.Attributes["RawMessageDelivery"] == "true":
		err = s.cfg.Queues.SendMessage(ctx, rp.DeadLetterTargetArn, m.Message, m.Attributes)
	default:
		body, _ := json.Marshal(s.envelope(sub, m))
		err = s.cfg.Queues.SendMessage(ctx, rp.DeadLetterTargetArn, string(body), nil)
	}
	if err != nil {
		s.log.Error("local sns: send to the subscription's dead-letter queue", "subscription", sub.ARN, "queue", rp.DeadLetterTargetArn, "err", err)
	}
}

func (s *Service) finish(id int64) {
	if _, err := s.db.ExecContext(context.Background(), `DELETE FROM deliveries WHERE id = ?`, id); err != nil {
		s.log.Error("local sns: remove a finished delivery", "id", id, "err", err)
	}
}

// deliver sends m to sub's endpoint.
func (s *Service) deliver(ctx context.Context, sub *subscription, m *message) error {
	raw := sub.Attributes["RawMessageDelivery"] == "true" && m.Type == typeNotification
	switch sub.Protocol {
	case "lambda":
		if s.cfg.Functions == nil {
			return errors.New("no local Lambda is configured")
		}
		payload, err := json.Marshal(s.lambdaEvent(sub, m))
		if err != nil {
			return err
		}
		_, err = s.cfg.Functions.InvokeAsync(ctx, sub.Endpoint, payload)
		return err
	case "sqs":
		if s.cfg.Queues == nil {
			return errors.New("no local SQS is configured")
		}
		if raw {
			return s.cfg.Queues.SendMessage(ctx, sub.Endpoint, m.Message, m.Attributes)
		}
		body, err := json.Marshal(s.envelope(sub, m))
		if err != nil {
			return err
		}
		return s.cfg.Queues.SendMessage(ctx, sub.Endpoint, string(body), nil)
	case "http", "https":
		return s.post(ctx, sub, m, raw)
	}
	return fmt.Errorf("protocol %s is not delivered", sub.Protocol)
}

// post delivers to an http(s) endpoint as AWS does; any 2xx is success.
func (s *Service) post(ctx context.Context, sub *subscription, m *message, raw bool) error {
	var body []byte
	if raw {
		body = []byte(m.Message)
	} else {
		b, err := json.Marshal(s.envelope(sub, m))
		if err != nil {
			return err
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.Endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	h := req.Header
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("User-Agent", "Amazon Simple Notification Service Agent")
	h.Set("x-amz-sns-message-type", m.Type)
	h.Set("x-amz-sns-message-id", m.MessageID)
	h.Set("x-amz-sns-topic-arn", m.TopicARN)
	if m.Type == typeNotification {
		h.Set("x-amz-sns-subscription-arn", sub.ARN)
	}
	if raw {
		h.Set("x-amz-sns-rawdelivery", "true")
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return nil
}

// envelopeAttribute is a message attribute in an envelope.
type envelopeAttribute struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

func envelopeAttributes(attrs map[string]MessageAttribute) map[string]envelopeAttribute {
	if len(attrs) == 0 {
		return nil
	}
	out := make(map[string]envelopeAttribute, len(attrs))
	for k, a := range attrs {
		v := a.StringValue
		if strings.HasPrefix(a.DataType, "Binary") {
			v = base64.StdEncoding.EncodeToString(a.BinaryValue)
		}
		out[k] = envelopeAttribute{Type: a.DataType, Value: v}
	}
	return out
}

// envelope is the JSON document SNS sends to SQS and HTTP endpoints.
type envelope struct {
	Type              string                       `json:"Type"`
	MessageID         string                       `json:"MessageId"`
	Token             string                       `json:"Token,omitempty"`
	TopicARN          string                       `json:"TopicArn"`
	Subject           string                       `json:"Subject,omitempty"`
	Message           string                       `json:"Message"`
	SubscribeURL      string                       `json:"SubscribeURL,omitempty"`
	Timestamp         string                       `json:"Timestamp"`
	SignatureVersion  string                       `json:"SignatureVersion"`
	Signature         string                       `json:"Signature"`
	SigningCertURL    string                       `json:"SigningCertURL"`
	UnsubscribeURL    string                       `json:"UnsubscribeURL,omitempty"`
	MessageAttributes map[string]envelopeAttribute `json:"MessageAttributes,omitempty"`
}

const timestampFormat = "2006-01-02T15:04:05.000Z"

func (s *Service) envelope(sub *subscription, m *message) envelope {
	e := envelope{
		Type: m.Type, MessageID: m.MessageID, TopicARN: m.TopicARN, Subject: m.Subject, Message: m.Message,
		Timestamp: m.Timestamp.UTC().Format(timestampFormat), SignatureVersion: "1",
		SigningCertURL: s.cfg.BaseURL() + CertificatePath, MessageAttributes: envelopeAttributes(m.Attributes),
	}
	if m.Type == typeConfirmation {
		e.Token = m.Token
		e.SubscribeURL = s.subscribeURL(m.TopicARN, m.Token)
	} else {
		e.UnsubscribeURL = s.unsubscribeURL(sub.ARN)
	}
	e.Signature = s.sign(m)
	return e
}

func (s *Service) subscribeURL(topicARN, token string) string {
	return s.cfg.BaseURL() + "/?" + url.Values{"Action": {"ConfirmSubscription"}, "TopicArn": {topicARN}, "Token": {token}}.Encode()
}

func (s *Service) unsubscribeURL(subARN string) string {
	return s.cfg.BaseURL() + "/?" + url.Values{"Action": {"Unsubscribe"}, "SubscriptionArn": {subARN}}.Encode()
}

// LambdaEvent is the event a lambda subscription's function receives.
type LambdaEvent struct {
	Records []LambdaRecord `json:"Records"`
}

// LambdaRecord is one record of a LambdaEvent.
type LambdaRecord struct {
	EventSource          string       `json:"EventSource"`
	EventVersion         string       `json:"EventVersion"`
	EventSubscriptionArn string       `json:"EventSubscriptionArn"`
	Sns                  LambdaSNSMsg `json:"Sns"`
}

// LambdaSNSMsg is a LambdaRecord's Sns member.
type LambdaSNSMsg struct {
	Type              string                       `json:"Type"`
	MessageID         string                       `json:"MessageId"`
	TopicArn          string                       `json:"TopicArn"`
	Subject           *string                      `json:"Subject"`
	Message           string                       `json:"Message"`
	Timestamp         string                       `json:"Timestamp"`
	SignatureVersion  string                       `json:"SignatureVersion"`
	Signature         string                       `json:"Signature"`
	SigningCertURL    string                       `json:"SigningCertUrl"`
	UnsubscribeURL    string                       `json:"UnsubscribeUrl"`
	MessageAttributes map[string]envelopeAttribute `json:"MessageAttributes"`
}

func (s *Service) lambdaEvent(sub *subscription, m *message) LambdaEvent {
	var subject *string
	if m.Subject != "" {
		subject = &m.Subject
	}
	attrs := envelopeAttributes(m.Attributes)
	if attrs == nil {
		attrs = map[string]envelopeAttribute{}
	}
	return LambdaEvent{Records: []LambdaRecord{{
		EventSource: "aws:sns", EventVersion: "1.0", EventSubscriptionArn: sub.ARN,
		Sns: LambdaSNSMsg{
			Type: m.Type, MessageID: m.MessageID, TopicArn: m.TopicARN, Subject: subject, Message: m.Message,
			Timestamp: m.Timestamp.UTC().Format(timestampFormat), SignatureVersion: "1", Signature: s.sign(m),
			SigningCertURL: s.cfg.BaseURL() + CertificatePath, UnsubscribeURL: s.unsubscribeURL(sub.ARN),
			MessageAttributes: attrs,
		},
	}}}
}
