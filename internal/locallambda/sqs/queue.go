package sqs

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/awsid"
)

// queue is a queue's row: its settable attributes with the defaults
// filled in, its tags and its times.
type queue struct {
	name     string
	created  time.Time
	modified time.Time
	attrs    map[string]string
	tags     map[string]string
	purged   time.Time // the last PurgeQueue
}

func (q *queue) fifo() bool { return strings.HasSuffix(q.name, ".fifo") }

// intAttr is an integer attribute (validated when it was set).
func (q *queue) intAttr(name string) int {
	n, _ := strconv.Atoi(q.attrs[name])
	return n
}

// redrive is the queue's RedrivePolicy, if it has one.
func (q *queue) redrive() (dlqName string, maxReceives int, ok bool) {
	p, err := parseRedrivePolicy(q.attrs["RedrivePolicy"])
	if err != nil || p == nil {
		return "", 0, false
	}
	return p.name, p.maxReceiveCount, true
}

type redrivePolicy struct {
	arn             string
	name            string
	maxReceiveCount int
}

// parseRedrivePolicy parses {"deadLetterTargetArn": ARN,
// "maxReceiveCount": N} (N a number or a string, as AWS takes both); ""
// is no policy.
func parseRedrivePolicy(s string) (*redrivePolicy, error) {
	if s == "" {
		return nil, nil
	}
	var raw struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, invalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.", s)
	}
	n, err := strconv.Atoi(strings.Trim(string(raw.MaxReceiveCount), `"`))
	if err != nil || n < 1 || n > 1000 {
		return nil, invalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: %s, valid values are from 1 to 1000 both inclusive.", s, raw.MaxReceiveCount)
	}
	parts := strings.Split(raw.DeadLetterTargetArn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" {
		return nil, invalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for deadLetterTargetArn.", s)
	}
	return &redrivePolicy{arn: raw.DeadLetterTargetArn, name: parts[5], maxReceiveCount: n}, nil
}

// intRange is the range of an integer attribute.
type intRange struct{ min, max int }

var intAttributes = map[string]intRange{
	"DelaySeconds":                  {0, 900},
	"MaximumMessageSize":            {1024, 1048576},
	"MessageRetentionPeriod":        {60, 1209600},
	"ReceiveMessageWaitTimeSeconds": {0, 20},
	"VisibilityTimeout":             {0, 43200},
	"KmsDataKeyReusePeriodSeconds":  {60, 86400},
}

// storedAttributes are taken and echoed without further effect locally.
var storedAttributes = map[string]bool{
	"Policy": true, "RedriveAllowPolicy": true, "KmsMasterKeyId": true, "SqsManagedSseEnabled": true,
}

var fifoAttributes = map[string][]string{
	"ContentBasedDeduplication": {"true", "false"},
	"DeduplicationScope":        {"messageGroup", "queue"},
	"FifoThroughputLimit":       {"perQueue", "perMessageGroupId"},
}

// readOnlyAttributes are computed; GetQueueAttributes returns them.
var readOnlyAttributes = []string{
	"QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
	"ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
}

func defaultAttributes(fifo bool) map[string]string {
	a := map[string]string{
		"DelaySeconds": "0", "MaximumMessageSize": "262144", "MessageRetentionPeriod": "345600",
		"ReceiveMessageWaitTimeSeconds": "0", "VisibilityTimeout": "30", "SqsManagedSseEnabled": "true",
	}
	if fifo {
		a["FifoQueue"] = "true"
		a["ContentBasedDeduplication"] = "false"
		a["DeduplicationScope"] = "queue"
		a["FifoThroughputLimit"] = "perQueue"
	}
	return a
}

// checkQueueName checks a name as CreateQueue does.
func checkQueueName(name string, fifoAttr string) error {
	base, fifo := strings.CutSuffix(name, ".fifo")
	if fifo && len(name) > 80 || !awsid.Name(base, 80, "_-") {
		return invalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (got %q).", name)
	}
	switch {
	case fifoAttr == "true" && !fifo:
		return invalidParameter("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
	case fifo && fifoAttr != "true":
		return invalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length. A queue named %q must be created with the attribute FifoQueue=true.", name)
	}
	return nil
}

// applyAttributes validates set and returns q's attributes with them
// applied. creating allows FifoQueue. dlqExists tells whether a
// RedrivePolicy's target exists and is FIFO.
func applyAttributes(q *queue, set map[string]string, creating bool, dlq func(name string) (exists, fifo bool)) (map[string]string, error) {
	out := maps.Clone(q.attrs)
	for name, v := range set {
		if r, ok := intAttributes[name]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < r.min || n > r.max {
				return nil, invalidAttributeValue("Invalid value for the parameter %s: %q is not a number from %d to %d.", name, v, r.min, r.max)
			}
			out[name] = strconv.Itoa(n)
			continue
		}
		if allowed, ok := fifoAttributes[name]; ok {
			if !q.fifo() {
				return nil, invalidAttributeName("Unknown Attribute %s: it applies to FIFO queues only.", name)
			}
			if !slices.Contains(allowed, v) {
				return nil, invalidAttributeValue("Invalid value for the parameter %s: %q is not one of %s.", name, v, strings.Join(allowed, ", "))
			}
			out[name] = v
			continue
		}
		switch {
		case storedAttributes[name]:
			out[name] = v
		case name == "FifoQueue":
			if !creating {
				return nil, invalidAttributeName("Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.")
			}
			if v != "true" && v != "false" {
				return nil, invalidAttributeValue("Invalid value for the parameter FifoQueue: %q is not true or false.", v)
			}
			if v == "true" {
				out[name] = v
			}
		case name == "RedrivePolicy":
			p, err := parseRedrivePolicy(v)
			if err != nil {
				return nil, err
			}
			if p != nil {
				exists, fifo := dlq(p.name)
				if !exists {
					return nil, invalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.", v)
				}
				if fifo != q.fifo() {
					return nil, invalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type of queue as the source.", v)
				}
			}
			if v == "" {
				delete(out, name)
			} else {
				out[name] = v
			}
		default:
			return nil, invalidAttributeName("Unknown Attribute %s.", name)
		}
	}
	return out, nil
}
