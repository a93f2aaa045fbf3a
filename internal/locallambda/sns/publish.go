package sns

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/awsid"
)

// Message types (the envelope's Type).
const (
	typeNotification = "Notification"
	typeConfirmation = "SubscriptionConfirmation"
)

// message is one delivery's content, stored with it: a notification as
// published (its Message already chosen for the subscription's protocol
// with MessageStructure=json), or a subscription confirmation.
type message struct {
	Type       string                      `json:"type"`
	MessageID  string                      `json:"messageId"`
	TopicARN   string                      `json:"topicArn"`
	Subject    string                      `json:"subject,omitempty"`
	Message    string                      `json:"message"`
	Timestamp  time.Time                   `json:"timestamp"`
	Attributes map[string]MessageAttribute `json:"attributes,omitempty"`
	Token      string                      `json:"token,omitempty"`
}

// Publish limits.
const (
	maxMessageBytes  = 256 * 1024 // message, subject and attributes together
	maxSubjectLength = 100
	maxBatchEntries  = 10
)

// publishInput is a checked Publish request (or batch entry).
type publishInput struct {
	Message, Subject, Structure string
	Attributes                  map[string]MessageAttribute
	// perProtocol is the parsed MessageStructure=json message.
	perProtocol map[string]string
}

// Publish publishes message to the topic topicARN, as the Publish action
// does: the deliveries it owes are stored before it returns. It is what
// the local Lambda's dead-letter queues and destinations use.
func (s *Service) Publish(ctx context.Context, topicARN, msg string, attrs map[string]MessageAttribute) (string, error) {
	in := &publishInput{Message: msg, Attributes: attrs}
	if err := in.check(); err != nil {
		return "", err
	}
	ids, err := s.fanOut(ctx, topicARN, []*publishInput{in})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

func (s *Service) publish(ctx context.Context, p params) (any, error) {
	topicARN := p.get("TopicArn")
	if topicARN == "" {
		topicARN = p.get("TargetArn")
	}
	if topicARN == "" {
		if p.get("PhoneNumber") != "" {
			return nil, invalidParameter("PhoneNumber Reason: SMS is not part of the local SNS: publish to a topic")
		}
		return nil, invalidParameter("TopicArn or TargetArn Reason: no value for required parameter")
	}
	if p.has("MessageGroupId") || p.has("MessageDeduplicationId") {
		return nil, invalidParameter("MessageGroupId Reason: The request includes MessageGroupId parameter that is not valid for this topic type")
	}
	in, err := readPublishInput(p)
	if err != nil {
		return nil, err
	}
	ids, err := s.fanOut(ctx, topicARN, []*publishInput{in})
	if err != nil {
		return nil, err
	}
	return struct{ MessageId string }{ids[0]}, nil
}

func (s *Service) publishBatch(ctx context.Context, p params) (any, error) {
	topicARN, err := p.required("TopicArn")
	if err != nil {
		return nil, err
	}
	idx := p.indexes("PublishBatchRequestEntries.member.")
	switch {
	case len(idx) == 0:
		return nil, &apiError{Status: http.StatusBadRequest, Code: "EmptyBatchRequest", Message: "The batch request doesn't contain any entries."}
	case len(idx) > maxBatchEntries:
		return nil, &apiError{Status: http.StatusBadRequest, Code: "TooManyEntriesInBatchRequest",
			Message: fmt.Sprintf("The batch request contains more entries than permissible: at most %d.", maxBatchEntries)}
	}
	type success struct{ Id, MessageId string }
	type failure struct {
		Id, Code, Message string
		SenderFault       bool
	}
	var out struct {
		Successful []success `xml:"Successful>member"`
		Failed     []failure `xml:"Failed>member"`
	}
	seen := map[string]bool{}
	var ok []*publishInput
	var okIDs []string
	for _, n := range idx {
		e := p.sub("PublishBatchRequestEntries.member." + strconv.Itoa(n) + ".")
		id := e.get("Id")
		if seen[id] {
			return nil, &apiError{Status: http.StatusBadRequest, Code: "BatchEntryIdsNotDistinct", Message: "Two or more batch entries in the request have the same Id."}
		}
		seen[id] = true
		if id == "" || len(id) > 80 {
			return nil, &apiError{Status: http.StatusBadRequest, Code: "InvalidBatchEntryId", Message: "The Id of a batch entry in a batch request doesn't abide by the specification."}
		}
		in, err := readPublishInput(e)
		if err != nil {
			ae, _ := err.(*apiError)
			if ae == nil {
				return nil, err
			}
			out.Failed = append(out.Failed, failure{Id: id, Code: ae.Code, Message: ae.Message, SenderFault: true})
			continue
		}
		ok = append(ok, in)
		okIDs = append(okIDs, id)
	}
	if len(ok) > 0 {
		ids, err := s.fanOut(ctx, topicARN, ok)
		if err != nil {
			return nil, err
		}
		for i, id := range ids {
			out.Successful = append(out.Successful, success{okIDs[i], id})
		}
	}
	return out, nil
}

// readPublishInput reads and checks Message, Subject, MessageStructure
// and MessageAttributes.
func readPublishInput(p params) (*publishInput, error) {
	if !p.has("Message") {
		return nil, validationError("message")
	}
	in := &publishInput{Message: p.get("Message"), Subject: p.get("Subject"), Structure: p.get("MessageStructure")}
	in.Attributes = map[string]MessageAttribute{}
	for _, n := range p.indexes("MessageAttributes.entry.") {
		base := "MessageAttributes.entry." + strconv.Itoa(n) + "."
		name := p.get(base + "Name")
		a := MessageAttribute{DataType: p.get(base + "Value.DataType"), StringValue: p.get(base + "Value.StringValue")}
		if b := p.get(base + "Value.BinaryValue"); b != "" {
			raw, err := base64.StdEncoding.DecodeString(b)
			if err != nil {
				return nil, invalidParameter("The message attribute '%s' has an invalid binary value: it is not base64", name)
			}
			a.BinaryValue = raw
		}
		in.Attributes[name] = a
	}
	if err := in.check(); err != nil {
		return nil, err
	}
	return in, nil
}

// check applies Publish's rules, with AWS's messages.
func (in *publishInput) check() error {
	if in.Message == "" {
		return invalidParameter("Empty message")
	}
	if len(in.Subject) > maxSubjectLength {
		return invalidParameter("Subject")
	}
	for _, r := range in.Subject {
		if r == '\n' || r == '\r' || r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return invalidParameter("Subject")
		}
	}
	size := len(in.Message) + len(in.Subject)
	for name, a := range in.Attributes {
		if err := checkAttribute(name, a); err != nil {
			return err
		}
		size += len(name) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	if size > maxMessageBytes {
		return invalidParameter("Message too long")
	}
	switch in.Structure {
	case "":
	case "json":
		var m map[string]any
		if err := json.Unmarshal([]byte(in.Message), &m); err != nil {
			return invalidParameter("Message Structure - JSON message body failed to parse")
		}
		in.perProtocol = map[string]string{}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return invalidParameter("Message Structure - JSON message body failed to parse")
			}
			in.perProtocol[k] = s
		}
		if _, ok := in.perProtocol["default"]; !ok {
			return invalidParameter("Message Structure - No default entry in JSON message body")
		}
	default:
		return invalidParameter("MessageStructure")
	}
	return nil
}

func checkAttribute(name string, a MessageAttribute) error {
	if !awsid.Name(name, 256, "_.-") || strings.HasPrefix(name, "AWS.") || strings.HasPrefix(name, "Amazon.") ||
		strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return invalidParameter("Message attribute name '%s' is invalid", name)
	}
	base, _, _ := strings.Cut(a.DataType, ".")
	switch {
	case a.DataType == "":
		return invalidParameter("The message attribute '%s' must contain non-empty message attribute type.", name)
	case a.DataType == "String.Array":
		var arr []any
		if err := json.Unmarshal([]byte(a.StringValue), &arr); err != nil {
			return invalidParameter("The message attribute '%s' with type 'String.Array' has an invalid value: it must be a JSON array", name)
		}
		for _, el := range arr {
			switch el.(type) {
			case string, float64, bool, nil:
			default:
				return invalidParameter("The message attribute '%s' with type 'String.Array' may hold strings, numbers, true, false and null only", name)
			}
		}
	case base == "String":
		if a.StringValue == "" {
			return invalidParameter("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.DataType)
		}
	case base == "Number":
		f, err := strconv.ParseFloat(a.StringValue, 64)
		if err != nil {
			return invalidParameter("Could not cast message attribute '%s' value to number.", name)
		}
		if f > 1e9 || f < -1e9 {
			return invalidParameter("Value %s for parameter %s is invalid. Reason: Number must be between -1e9 and 1e9.", a.StringValue, name)
		}
	case base == "Binary":
		if len(a.BinaryValue) == 0 {
			return invalidParameter("The message attribute '%s' must contain non-empty message attribute value for message attribute type '%s'.", name, a.DataType)
		}
	default:
		return invalidParameter("The message attribute '%s' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.", name)
	}
	return nil
}

// fanOut stores, in one transaction, a delivery per message and
// confirmed subscription of the topic whose filter policy it passes, and
// returns the message IDs.
func (s *Service) fanOut(ctx context.Context, topicARN string, ins []*publishInput) ([]string, error) {
	ids := make([]string, len(ins))
	now := s.cfg.Clock()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		_, subs, err := s.topicSubscriptions(ctx, tx, topicARN)
		if err != nil {
			return err
		}
		for i, in := range ins {
			ids[i] = uuid.NewString()
			for _, sub := range subs {
				if !sub.Confirmed || !passes(sub, in) {
					continue
				}
				m := &message{Type: typeNotification, MessageID: ids[i], TopicARN: topicARN, Subject: in.Subject,
					Message: in.Message, Timestamp: now.UTC(), Attributes: in.Attributes}
				if in.perProtocol != nil {
					m.Message = in.perProtocol["default"]
					if v, ok := in.perProtocol[sub.Protocol]; ok {
						m.Message = v
					}
				}
				if err := addDelivery(ctx, tx, sub.ARN, m, now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.signal()
	return ids, nil
}

// passes tells whether a message passes a subscription's filter policy.
// A policy stored before it was checked (it cannot be) that no longer
// parses lets nothing through.
func passes(sub *subscription, in *publishInput) bool {
	text := sub.Attributes["FilterPolicy"]
	if text == "" {
		return true
	}
	scope := sub.Attributes["FilterPolicyScope"]
	if scope == "" {
		scope = scopeAttributes
	}
	fp, err := parseFilterPolicy(text, scope)
	if err != nil {
		return false
	}
	if scope == scopeBody {
		msg := in.Message
		if in.perProtocol != nil {
			msg = in.perProtocol["default"]
			if v, ok := in.perProtocol[sub.Protocol]; ok {
				msg = v
			}
		}
		return fp.matches(bodySource(msg))
	}
	return fp.matches(attributeSource(in.Attributes))
}
