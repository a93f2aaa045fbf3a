package sqs

import "testing"

// TestMD5OfAttributes checks the message-attribute digest against the
// example in AWS's SQS documentation (one String attribute).
func TestMD5OfAttributes(t *testing.T) {
	got := md5OfAttributes(map[string]MessageAttributeValue{"SellerName": {DataType: "String", StringValue: "Example Store"}})
	if want := "cd28f3b68aeee4b2eac9c66f2f694b58"; got != want {
		t.Errorf("md5OfAttributes(SellerName=Example Store) = %s; want %s", got, want)
	}
	if got := md5OfAttributes(nil); got != "" {
		t.Errorf("md5OfAttributes(nil) = %q; want empty", got)
	}
}
