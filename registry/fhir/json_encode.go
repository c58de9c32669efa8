package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// MarshalResource encodes a decoded resource (or any JSON object from DecodeJSON) compactly:
// "resourceType", "id", "meta" first (when present), then the other keys sorted; no HTML
// escaping (narrative <div> stays readable); json.Number written verbatim; nested
// resources (contained[], Bundle.entry[].resource, Parameters.parameter[].resource) get the same ordering.
// Values built in Go rather than decoded (float64, int, []string, ...) are
// encoded too; a value JSON cannot represent (a channel, NaN) panics.
func MarshalResource(res map[string]any) []byte { return marshalJSON(res, false) }

// MarshalIndent is MarshalResource with two-space indentation (for _pretty=true).
func MarshalIndent(res map[string]any) []byte { return marshalJSON(res, true) }

// encoders recycles encoder buffers: the result is copied out once at its
// final size instead of growing a fresh buffer for every resource.
var encoders = sync.Pool{New: func() any { return &jsonEncoder{buf: make([]byte, 0, 8192)} }}

func marshalJSON(res map[string]any, indent bool) []byte {
	e := encoders.Get().(*jsonEncoder)
	e.buf, e.indent, e.depth = e.buf[:0], indent, 0
	e.object(res)
	out := bytes.Clone(e.buf)
	if cap(e.buf) <= 1<<20 {
		encoders.Put(e)
	}
	return out
}

// jsonEncoder writes canonical JSON. members is a stack of key/value pairs
// shared by all nesting levels, so sorting costs no allocation per object.
type jsonEncoder struct {
	buf     []byte
	members []jsonMember
	indent  bool
	depth   int
}

func (e *jsonEncoder) value(v any) {
	switch v := v.(type) {
	case nil:
		e.buf = append(e.buf, "null"...)
	case string:
		e.str(v)
	case json.Number:
		if v == "" {
			v = "0"
		}
		e.buf = append(e.buf, v...)
	case bool:
		e.buf = strconv.AppendBool(e.buf, v)
	case map[string]any:
		e.object(v)
	case []any:
		e.array(len(v), func(i int) { e.value(v[i]) })
	default:
		e.other(v)
	}
}

// other encodes values that code, not DecodeJSON, put into a resource.
func (e *jsonEncoder) other(v any) {
	switch v := v.(type) {
	case float64:
		e.float(v)
	case int:
		e.buf = strconv.AppendInt(e.buf, int64(v), 10)
	case int64:
		e.buf = strconv.AppendInt(e.buf, v, 10)
	case []string:
		e.array(len(v), func(i int) { e.str(v[i]) })
	case []map[string]any:
		e.array(len(v), func(i int) { e.object(v[i]) })
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = s
		}
		e.object(m)
	default:
		e.reflected(v)
	}
}

// reflected falls back to encoding/json (without HTML escaping) for any
// other Go value; its key order is encoding/json's (sorted).
func (e *jsonEncoder) reflected(v any) {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("fhir: cannot encode %T as JSON: %v", v, err))
	}
	e.buf = append(e.buf, strings.TrimSuffix(sb.String(), "\n")...)
}

func (e *jsonEncoder) float(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("fhir: cannot encode NaN or infinity as JSON")
	}
	a := f
	if a < 0 {
		a = -a
	}
	if a != 0 && (a < 1e-6 || a >= 1e21) {
		e.buf = strconv.AppendFloat(e.buf, f, 'e', -1, 64)
		return
	}
	e.buf = strconv.AppendFloat(e.buf, f, 'f', -1, 64)
}

func (e *jsonEncoder) newline() {
	if e.indent {
		e.buf = append(e.buf, '\n')
		for range e.depth {
			e.buf = append(e.buf, "  "...)
		}
	}
}

func (e *jsonEncoder) array(n int, item func(int)) {
	if n == 0 {
		e.buf = append(e.buf, "[]"...)
		return
	}
	e.buf = append(e.buf, '[')
	e.depth++
	for i := range n {
		if i > 0 {
			e.buf = append(e.buf, ',')
		}
		e.newline()
		item(i)
	}
	e.depth--
	e.newline()
	e.buf = append(e.buf, ']')
}

func (e *jsonEncoder) object(m map[string]any) {
	if len(m) == 0 {
		e.buf = append(e.buf, "{}"...)
		return
	}
	base := len(e.members)
	_, isResource := m["resourceType"]
	for k, v := range m {
		e.members = append(e.members, jsonMember{key: k, val: v, off: keyRank(k, isResource)})
	}
	sortMembers(e.members[base:])
	e.writeMembers(base)
	clear(e.members[base:])
	e.members = e.members[:base]
}

// keyRank puts resourceType, id and meta of a resource before all other keys.
func keyRank(k string, isResource bool) int {
	if isResource {
		switch k {
		case "resourceType":
			return 0
		case "id":
			return 1
		case "meta":
			return 2
		}
	}
	return 3
}

// writeMembers writes e.members[base:]; nested objects push their own
// members above them and pop them again, so the indexes stay valid.
func (e *jsonEncoder) writeMembers(base int) {
	e.buf = append(e.buf, '{')
	e.depth++
	end := len(e.members)
	for i := base; i < end; i++ {
		if i > base {
			e.buf = append(e.buf, ',')
		}
		e.newline()
		e.str(e.members[i].key)
		e.buf = append(e.buf, ':')
		if e.indent {
			e.buf = append(e.buf, ' ')
		}
		e.value(e.members[i].val)
	}
	e.depth--
	e.newline()
	e.buf = append(e.buf, '}')
}

// sortMembers is an insertion sort by (rank, key): objects have few keys,
// and it allocates nothing.
func sortMembers(s []jsonMember) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && memberLess(&s[j], &s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func memberLess(a, b *jsonMember) bool {
	if a.off != b.off {
		return a.off < b.off
	}
	return a.key < b.key
}

const hexDigits = "0123456789abcdef"

// plainByte marks the ASCII bytes str copies as they are.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str writes s as a JSON string. Only '"', '\', control characters,
// U+2028/U+2029 and invalid UTF-8 (as U+FFFD) are escaped.
func (e *jsonEncoder) str(s string) {
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainByte[c] {
			i++
			continue
		}
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
			invalid := r == utf8.RuneError && n == 1
			if !invalid && r != '\u2028' && r != '\u2029' {
				i += n
				continue
			}
		}
		e.buf = append(e.buf, s[start:i]...)
		e.escape(r)
		i += n
		start = i
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
}

func (e *jsonEncoder) escape(r rune) {
	switch r {
	case '"', '\\':
		e.buf = append(e.buf, '\\', byte(r))
	case '\n':
		e.buf = append(e.buf, '\\', 'n')
	case '\r':
		e.buf = append(e.buf, '\\', 'r')
	case '\t':
		e.buf = append(e.buf, '\\', 't')
	default:
		if r == utf8.RuneError {
			r = 0xFFFD
		}
		e.buf = append(e.buf, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	}
}
