package cli

import (
	"testing"
	"time"
)

// FuzzDecodeUnverified: `authctl token decode` takes any string from the user; it never panics.
func FuzzDecodeUnverified(f *testing.F) {
	f.Add("eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJleHAiOjE3OTU4OTQ4MzEsInN1YiI6IjEifQ.sig")
	f.Add("a.b.c")
	f.Add("e30.e30.")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		claims, header, err := decodeUnverified(tok)
		if err != nil {
			return
		}
		if header == nil && claims == nil {
			t.Fatal("no error and nothing decoded")
		}
		ios, _, _, _ := Test()
		printClaims(ios, Styles{}, header, time.Unix(0, 0))
		printClaims(ios, Styles{}, claims, time.Unix(0, 0))
	})
}
