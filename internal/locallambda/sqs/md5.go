package sqs

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
)

// md5Hex is the hex MD5 of s, as MD5OfMessageBody.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// md5OfAttributes is MD5OfMessageAttributes (and, over system
// attributes, MD5OfMessageSystemAttributes) as AWS computes it: for each
// attribute in name order, the name, the data type and the value, each
// preceded by its length as a 4-byte big-endian integer, with a
// transport byte (1 for String and Number types, 2 for Binary) before the
// value. No attributes: "".
func md5OfAttributes(attrs map[string]MessageAttributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	h := md5.New()
	put := func(b []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		put([]byte(name))
		put([]byte(v.DataType))
		if strings.HasPrefix(v.DataType, "Binary") {
			h.Write([]byte{2})
			put(v.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(v.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
