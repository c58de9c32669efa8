package matching

import (
	"strings"
	"testing"
	"unsafe"
)

// TestValueCacheKeepsNoRequestBody: a name decoded from a request body is
// a substring of the whole body; the cache, which outlives the request,
// must hold a copy of the name, not the body.
func TestValueCacheKeepsNoRequestBody(t *testing.T) {
	body := strings.Repeat(`{"family":"x"},`, 1<<16) + "Featherstonehaugh"
	name := body[len(body)-len("Featherstonehaugh"):]
	v, _ := cachedNewValue(fFamily, name)
	lo := uintptr(unsafe.Pointer(unsafe.StringData(body)))
	hi := lo + uintptr(len(body))
	inBody := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return s != "" && p >= lo && p < hi
	}
	found := false
	for i := range valueCache {
		sh := &valueCache[i]
		sh.mu.RLock()
		for k, c := range sh.m {
			if k.s == name {
				found = true
				if inBody(k.s) || inBody(c.v.display) || inBody(c.v.norm) {
					t.Errorf("the cache entry for %q points into the request body", name)
				}
			}
		}
		sh.mu.RUnlock()
	}
	if !found {
		t.Fatalf("%q not cached", name)
	}
	if v.norm == "" {
		t.Errorf("no value for %q", name)
	}
}
