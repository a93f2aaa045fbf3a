package sns

import (
	"strings"
	"testing"
)

// The message of AWS's filter-policy examples: attributes of an order.
var exampleAttributes = map[string]MessageAttribute{
	"customer_interests": {DataType: "String.Array", StringValue: `["soccer", "rugby", "hockey"]`},
	"store":              {DataType: "String", StringValue: "example_corp"},
	"event":              {DataType: "String", StringValue: "order_placed"},
	"price_usd":          {DataType: "Number", StringValue: "210.75"},
	"source_ip":          {DataType: "String", StringValue: "10.0.0.7"},
	"blob":               {DataType: "Binary", BinaryValue: []byte{1}},
}

func TestFilterPolicyAttributes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		policy string
		want   bool
	}{
		{`{}`, true},
		{`{"store":["example_corp"]}`, true},
		{`{"store":["other_corp"]}`, false},
		{`{"store":["other_corp","example_corp"]}`, true},
		{`{"store":["example_corp"],"event":["order_cancelled"]}`, false},
		{`{"store":["example_corp"],"event":["order_placed"]}`, true},
		{`{"missing":["x"]}`, false},
		// Numbers match Number attributes, not strings, and the reverse.
		{`{"price_usd":[210.75]}`, true},
		{`{"price_usd":[210.750001]}`, true},
		{`{"price_usd":[210.76]}`, false},
		{`{"price_usd":["210.75"]}`, false},
		{`{"store":[0]}`, false},
		// Arrays: any element.
		{`{"customer_interests":["rugby"]}`, true},
		{`{"customer_interests":["baseball"]}`, false},
		{`{"customer_interests":[{"prefix":"hock"}]}`, true},
		// prefix, suffix, equals-ignore-case.
		{`{"store":[{"prefix":"example"}]}`, true},
		{`{"store":[{"prefix":"corp"}]}`, false},
		{`{"store":[{"suffix":"_corp"}]}`, true},
		{`{"store":[{"suffix":"example"}]}`, false},
		{`{"store":[{"equals-ignore-case":"EXAMPLE_Corp"}]}`, true},
		{`{"store":[{"equals-ignore-case":"example"}]}`, false},
		// anything-but: values, a single value, prefix, suffix; absent never matches.
		{`{"store":[{"anything-but":["example_corp","other"]}]}`, false},
		{`{"store":[{"anything-but":"other"}]}`, true},
		{`{"price_usd":[{"anything-but":[100, 200]}]}`, true},
		{`{"price_usd":[{"anything-but":210.75}]}`, false},
		{`{"store":[{"anything-but":{"prefix":"exa"}}]}`, false},
		{`{"store":[{"anything-but":{"prefix":"foo"}}]}`, true},
		{`{"store":[{"anything-but":{"suffix":"corp"}}]}`, false},
		{`{"missing":[{"anything-but":["x"]}]}`, false},
		// numeric.
		{`{"price_usd":[{"numeric":[">",0]}]}`, true},
		{`{"price_usd":[{"numeric":[">",0,"<=",150]}]}`, false},
		{`{"price_usd":[{"numeric":[">=",210.75,"<",300]}]}`, true},
		{`{"price_usd":[{"numeric":["=",210.75]}]}`, true},
		{`{"price_usd":[{"numeric":["<",210.75]}]}`, false},
		{`{"store":[{"numeric":[">",0]}]}`, false},
		// exists.
		{`{"store":[{"exists":true}]}`, true},
		{`{"missing":[{"exists":true}]}`, false},
		{`{"missing":[{"exists":false}]}`, true},
		{`{"store":[{"exists":false}]}`, false},
		{`{"blob":[{"exists":true}]}`, true},
		{`{"blob":["AQ=="]}`, false},
		{`{"missing":["x",{"exists":false}]}`, true},
		// cidr.
		{`{"source_ip":[{"cidr":"10.0.0.0/24"}]}`, true},
		{`{"source_ip":[{"cidr":"10.0.1.0/24"}]}`, false},
		// $or.
		{`{"$or":[{"store":["nope"]},{"event":["order_placed"]}]}`, true},
		{`{"$or":[{"store":["nope"]},{"event":["nope"]}]}`, false},
		{`{"store":["example_corp"],"$or":[{"price_usd":[{"numeric":[">",500]}]},{"customer_interests":["hockey"]}]}`, true},
	}
	src := attributeSource(exampleAttributes)
	for _, tc := range cases {
		fp, err := parseFilterPolicy(tc.policy, scopeAttributes)
		if err != nil {
			t.Errorf("%s: %v", tc.policy, err)
			continue
		}
		if got := fp.matches(src); got != tc.want {
			t.Errorf("%s matches = %v, want %v", tc.policy, got, tc.want)
		}
	}
}

func TestFilterPolicyBody(t *testing.T) {
	t.Parallel()
	const body = `{"store":"example_corp","order":{"price_usd":210.75,"items":[{"sku":"a-1"},{"sku":"b-2"}],"gift":false,"note":null},
		"customer_interests":["soccer","rugby"]}`
	cases := []struct {
		policy string
		want   bool
	}{
		{`{"store":["example_corp"]}`, true},
		{`{"order":{"price_usd":[{"numeric":[">",200]}]}}`, true},
		{`{"order":{"price_usd":[{"numeric":["<",200]}]}}`, false},
		{`{"order":{"items":{"sku":[{"prefix":"b-"}]}}}`, true},
		{`{"order":{"items":{"sku":["c-3"]}}}`, false},
		{`{"order":{"gift":[false]}}`, true},
		{`{"order":{"gift":[true]}}`, false},
		{`{"order":{"note":[null]}}`, true},
		{`{"order":{"missing":[{"exists":false}]}}`, true},
		{`{"order":{"price_usd":[{"exists":true}]}}`, true},
		{`{"customer_interests":["rugby"]}`, true},
		{`{"$or":[{"store":["x"]},{"order":{"items":{"sku":["a-1"]}}}]}`, true},
		{`{"order":{"$or":[{"gift":[true]},{"price_usd":[210.75]}]}}`, true},
	}
	src := bodySource(body)
	for _, tc := range cases {
		fp, err := parseFilterPolicy(tc.policy, scopeBody)
		if err != nil {
			t.Errorf("%s: %v", tc.policy, err)
			continue
		}
		if got := fp.matches(src); got != tc.want {
			t.Errorf("%s matches = %v, want %v", tc.policy, got, tc.want)
		}
	}
	// A body that is not JSON has no keys.
	fp, _ := parseFilterPolicy(`{"store":["example_corp"]}`, scopeBody)
	if fp.matches(bodySource("store=example_corp")) {
		t.Error("a policy matched a body that is not JSON")
	}
}

func TestFilterPolicyInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		policy, scope, want string
	}{
		{`[]`, scopeAttributes, "must be a JSON object"},
		{`{"a":`, scopeAttributes, "not valid JSON"},
		{`{"a":"b"}`, scopeAttributes, `"a" must be an object or an array`},
		{`{"a":[]}`, scopeAttributes, "Empty arrays are not allowed"},
		{`{"a":{"b":["c"]}}`, scopeAttributes, "does not support nested filter policy"},
		{`{"a":[{"wildcard":"x*"}]}`, scopeAttributes, "Unrecognized match type wildcard"},
		{`{"a":[{"prefix":1}]}`, scopeAttributes, "Value of prefix must be a string"},
		{`{"a":[{"exists":"yes"}]}`, scopeAttributes, "exists match pattern must be either true or false"},
		{`{"a":[{"numeric":["<",5,">",1]}]}`, scopeAttributes, "a range is a lower bound"},
		{`{"a":[{"numeric":[">",5,"<",1]}]}`, scopeAttributes, "Bottom must be less than top"},
		{`{"a":[{"numeric":["!=",5]}]}`, scopeAttributes, "Unrecognized numeric range operator"},
		{`{"a":[{"numeric":[">","5"]}]}`, scopeAttributes, "must be numeric"},
		{`{"a":[1e10]}`, scopeAttributes, "within -1000000000 and 1000000000"},
		{`{"a":[{"anything-but":[true]}]}`, scopeAttributes, "anything but list"},
		{`{"a":[{"anything-but":{"wildcard":"x"}}]}`, scopeAttributes, "Unsupported anything-but pattern"},
		{`{"a":[{"cidr":"10.0.0.1"}]}`, scopeAttributes, "Malformed CIDR"},
		{`{"a":[["x"]]}`, scopeAttributes, "Match value must be String, number, true, false, or null"},
		{`{"$or":[{"a":["x"]}]}`, scopeAttributes, "$or must be an array of at least two"},
		{`{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`, scopeAttributes, "more than 5 keys"},
		{`{"a":["1","2","3","4","5","6"],"b":["1","2","3","4","5","6"],"c":["1","2","3","4","5"]}`, scopeAttributes, "too complex"},
		{`{"a":["x"]} {}`, scopeAttributes, "text after the policy"},
	}
	for _, tc := range cases {
		_, err := parseFilterPolicy(tc.policy, tc.scope)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.policy, err, tc.want)
		}
	}
}

// FuzzFilterPolicy parses arbitrary policies in both scopes and evaluates
// the ones that parse against attributes and a body: no input may panic,
// and a policy that parses evaluates the same way twice.
func FuzzFilterPolicy(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"store":["example_corp"]}`, `{"price_usd":[{"numeric":[">",0,"<=",150]}]}`,
		`{"a":[{"anything-but":{"prefix":"x"}}]}`, `{"$or":[{"a":["x"]},{"b":[{"exists":false}]}]}`,
		`{"order":{"items":{"sku":[{"prefix":"b-"}]}}}`, `{"a":[null,true,1.5,{"cidr":"10.0.0.0/8"}]}`,
	} {
		f.Add(seed, `{"order":{"items":[{"sku":"b-2"}]},"a":"x"}`)
	}
	f.Fuzz(func(t *testing.T, policy, body string) {
		if len(policy) > 4096 || len(body) > 4096 {
			t.Skip()
		}
		for _, scope := range []string{scopeAttributes, scopeBody} {
			fp, err := parseFilterPolicy(policy, scope)
			if err != nil {
				if _, ok := err.(*policyError); !ok {
					t.Fatalf("%q: error of type %T, want *policyError", policy, err)
				}
				continue
			}
			attrs := attributeSource(map[string]MessageAttribute{
				"a": {DataType: "String", StringValue: body}, "n": {DataType: "Number", StringValue: "3"},
				"arr": {DataType: "String.Array", StringValue: body},
			})
			b := bodySource(body)
			a1, b1 := fp.matches(attrs), fp.matches(b)
			if a2, b2 := fp.matches(attrs), fp.matches(b); a1 != a2 || b1 != b2 {
				t.Fatalf("%q evaluates differently twice", policy)
			}
		}
	})
}
