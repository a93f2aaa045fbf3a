package sns

import (
	"net/url"
	"testing"
)

// FuzzRequestParams decodes arbitrary query-protocol forms the way the
// operations do — Publish's message and attributes, the Attributes and
// Tags maps, a batch's entries, the checks of subscription attributes —
// with a bounded input: none may panic, and every error is an SNS error.
func FuzzRequestParams(f *testing.F) {
	for _, seed := range []string{
		"Action=Publish&Message=m&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=x",
		"Message=%7B%22default%22%3A%22d%22%7D&MessageStructure=json&Subject=s",
		"Attributes.entry.1.key=FilterPolicy&Attributes.entry.1.value=%7B%22a%22%3A%5B%22b%22%5D%7D&Attributes.entry.2.key=RawMessageDelivery&Attributes.entry.2.value=true",
		"PublishBatchRequestEntries.member.1.Id=a&PublishBatchRequestEntries.member.1.Message=m&MessageAttributes.entry.1.Value.BinaryValue=AAE%3D&MessageAttributes.entry.1.Value.DataType=Binary&MessageAttributes.entry.1.Name=b",
		"MessageAttributes.entry.99999999999999999999.Name=x&Tags.member.0.Key=k",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, form string) {
		if len(form) > 8192 {
			t.Skip()
		}
		v, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		p := params(v)
		if _, err := readPublishInput(p); err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("readPublishInput(%q): error of type %T", form, err)
			}
		}
		attrs := p.entries("Attributes", "key", "value")
		for _, protocol := range []string{"sqs", "lambda", "http"} {
			for k, val := range attrs {
				if err := checkSubscriptionAttribute(protocol, k, val, attrs); err != nil {
					if _, ok := err.(*apiError); !ok {
						t.Fatalf("checkSubscriptionAttribute(%q, %q): error of type %T", k, val, err)
					}
				}
			}
			_ = checkEndpoint(protocol, p.get("Endpoint"))
		}
		for _, n := range p.indexes("PublishBatchRequestEntries.member.") {
			if n <= 0 {
				t.Fatalf("index %d from %q", n, form)
			}
		}
	})
}
