package awsid

import "testing"

func TestValidRegion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		region string
		want   bool
	}{
		{"us-east-1", true},
		{"eu-central-2", true},
		{"ap-southeast-4", true},
		{"us-gov-west-1", true},
		{"cn-northwest-1", true},
		{"us-isob-east-1", true},
		{"", false},
		{"Mars", false},
		{"west", false},
		{"us-east", false},
		{"US-EAST-1", false},
		{"us-east-1a", false},
	} {
		if got := ValidRegion(tc.region); got != tc.want {
			t.Errorf("ValidRegion(%q) = %v, want %v", tc.region, got, tc.want)
		}
	}
}

func TestValidAccountID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{"123456789012": true, "000000000000": true, "12345678901": false, "1234567890123": false, "12345678901a": false, "": false} {
		if got := ValidAccountID(id); got != want {
			t.Errorf("ValidAccountID(%q) = %v, want %v", id, got, want)
		}
	}
}
