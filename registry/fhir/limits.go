package fhir

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Limits bounds how often an element may repeat, so that one record cannot
// make every later write that matches it slow (each identifier, name and
// address is indexed, compared and copied into golden records). A
// resource over a limit is an *Error (not Malformed: 422) naming the element.
type Limits struct {
	// Repeats maps an element name ("identifier", "given") to the most
	// items its array may hold, wherever it occurs; AnyElement is the cap
	// of every array not named. 0 means no limit. Nil: DefaultRepeats.
	Repeats map[string]int
}

// AnyElement is the Repeats key of the cap on arrays not named otherwise.
const AnyElement = "*"

// DefaultRepeats are the built-in limits. Bundle.entry is bounded by the
// request body limit instead: each entry's resource is checked on its own.
func DefaultRepeats() map[string]int {
	return map[string]int{
		"identifier": 100, "name": 20, "telecom": 50, "address": 20,
		"extension": 100, "modifierExtension": 100, "given": 20, "contained": 20,
		"entry": 0, AnyElement: 1000,
	}
}

// ParseLimits reads "identifier=200,given=10,*=500" over the defaults.
func ParseLimits(s string) (Limits, error) {
	l := Limits{Repeats: DefaultRepeats()}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if k = strings.TrimSpace(k); !ok || k == "" || err != nil || n < 0 {
			return Limits{}, fmt.Errorf("repeat limits: %q is not ELEMENT=COUNT (a count of 0 means no limit)", part)
		}
		l.Repeats[k] = n
	}
	return l, nil
}

// String renders the limits as ParseLimits reads them, sorted by element.
func (l Limits) String() string {
	r := l.repeats()
	parts := make([]string, 0, len(r))
	for _, k := range slices.Sorted(maps.Keys(r)) {
		parts = append(parts, k+"="+strconv.Itoa(r[k]))
	}
	return strings.Join(parts, ",")
}

func (l Limits) repeats() map[string]int {
	if l.Repeats == nil {
		return defaultRepeats
	}
	return l.Repeats
}

var defaultRepeats = DefaultRepeats()

// max returns the most items an array under key may hold (0: no limit).
func (l Limits) max(key string) int {
	r := l.repeats()
	if n, ok := r[strings.TrimPrefix(key, "_")]; ok {
		return n
	}
	return r[AnyElement]
}

// Validate is ValidateResource under these limits.
func (l Limits) Validate(res map[string]any) error {
	v := schemaWalk{path: make([]byte, 0, 128), limits: l}
	v.root(res)
	return v.result()
}

// ParseResource is the package's ParseResource under these limits.
func (l Limits) ParseResource(body []byte, want string) (map[string]any, error) {
	res, err := DecodeJSON(body)
	if err != nil {
		return nil, err
	}
	if rt, _ := res["resourceType"].(string); want != "" && rt != want {
		if rt == "" {
			return nil, malformed(issueTypeStructure, "", "the resource has no resourceType (expected %s)", want)
		}
		return nil, malformed("invalid", "", "resourceType %q does not match the endpoint %s", rt, want)
	}
	if err := l.Validate(res); err != nil {
		return nil, err
	}
	return res, nil
}

// tooMany reports an array of n items over the limit for key; the caller
// then skips its items, so that the work stays bounded.
func (v *schemaWalk) tooMany(key string, n int) bool {
	max := v.limits.max(key)
	if max == 0 || n <= max {
		return false
	}
	v.add(issueTypeTooCostly, fmt.Sprintf("%d items; at most %d are accepted (repeat limit of %s)", n, max, strings.TrimPrefix(key, "_")))
	return true
}
