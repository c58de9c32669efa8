package fhir

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// maxJSONDepth is the deepest nesting of objects and arrays DecodeJSON
// accepts. Real resources stay below 15; the limit stops stack exhaustion.
const maxJSONDepth = 64

// DecodeJSON parses body as one JSON object: strict RFC 8259, rejects duplicate keys
// (at any depth), invalid UTF-8, nesting deeper than 64, trailing data; numbers kept as
// json.Number (exact text, so decimals like 1.50 keep precision). Errors: a Malformed *Error,
// issue code "structure", diagnostics naming the byte offset and (for duplicate keys) the path, e.g. "Patient.name[0].family".
// A string escaping a control character FHIR strings forbid (U+0000–U+001F
// but tab, CR, LF) is Malformed too, with its path.
func DecodeJSON(body []byte) (map[string]any, error) { return decodeJSON(body, false) }

// DecodeStored is DecodeJSON for bodies already stored: it accepts the
// control characters FHIR strings forbid, which were stored before they
// were refused.
func DecodeStored(body []byte) (map[string]any, error) { return decodeJSON(body, true) }

// decodeJSON is DecodeJSON; lenient accepts the control characters FHIR
// forbids, for bodies stored before they were refused.
func decodeJSON(body []byte, lenient bool) (map[string]any, error) {
	d := decoders.Get().(*jsonDecoder)
	defer d.release()
	d.lenient = lenient
	// One copy of the body as a string: strings without escapes are
	// substrings of it, which saves an allocation per string.
	d.data, d.text = body, string(body)
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != '{' {
		return nil, d.fail(d.errf("expected a JSON object"))
	}
	root, err := d.object()
	if err == nil {
		if d.skipSpace(); d.pos < len(d.data) {
			err = d.errf("unexpected data after the top-level object")
		}
	}
	if err != nil {
		return nil, d.fail(err)
	}
	return root, nil
}

// jsonDecoder is a recursive-descent JSON parser over one body. Members and
// items are collected on scratch stacks shared by all levels, so that each
// map and slice is allocated once at its final size.
type jsonDecoder struct {
	data     []byte
	text     string // data as a string
	pos      int
	depth    int
	rootType string // resourceType of the top-level object, once seen
	lenient  bool   // accept control characters FHIR strings forbid
	members  []jsonMember
	items    []any
	slab     []any  // backing store for small arrays, see alloc
	scratch  []byte // unescaped string under construction
}

// decoders recycles the scratch stacks of jsonDecoder.
var decoders = sync.Pool{New: func() any { return new(jsonDecoder) }}

// release resets d and returns it to the pool. After a success the stacks
// are empty; after an error they are cleared so that they pin no values.
// The slab goes with the arrays carved from it; oversized stacks are dropped.
func (d *jsonDecoder) release() {
	clear(d.members)
	clear(d.items)
	if cap(d.members)+cap(d.items)+cap(d.scratch) > 1<<16 {
		return
	}
	*d = jsonDecoder{members: d.members[:0], items: d.items[:0], scratch: d.scratch[:0]}
	decoders.Put(d)
}

type jsonMember struct {
	key string
	val any
	off int // byte offset of the key, for duplicate-key errors
}

// jsonErr is a syntax error. path collects the keys and indexes from the
// failing value up to the root while the recursion unwinds, so the happy
// path never pays for path bookkeeping.
type jsonErr struct {
	off  int
	msg  string
	path []jsonSeg
}

// jsonSeg is one step of a path: an array index, or an object key when index is -1.
type jsonSeg struct {
	key   string
	index int
}

func (e *jsonErr) inKey(key string) *jsonErr {
	e.path = append(e.path, jsonSeg{key: key, index: -1})
	return e
}

func (e *jsonErr) inIndex(i int) *jsonErr {
	e.path = append(e.path, jsonSeg{index: i})
	return e
}

// fail turns a syntax error into an *Error.
func (d *jsonDecoder) fail(e *jsonErr) error {
	msg := fmt.Sprintf("invalid JSON at byte offset %d: %s", e.off, e.msg)
	iss := Issue{Severity: SeverityError, Code: "structure", Diagnostics: msg}
	if len(e.path) > 0 {
		p := d.path(e.path)
		iss.Expression = []string{p}
		iss.Diagnostics = msg + " (at " + p + ")"
	}
	return &Error{Malformed: true, Message: iss.Diagnostics, Issues: []Issue{iss}}
}

// path renders segments (innermost first) as "Patient.name[0].family".
func (d *jsonDecoder) path(segs []jsonSeg) string {
	var b strings.Builder
	b.WriteString(cmp.Or(d.rootType, "Resource"))
	for i := len(segs) - 1; i >= 0; i-- {
		if s := segs[i]; s.index < 0 {
			b.WriteString("." + s.key)
		} else {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		}
	}
	return b.String()
}

func (d *jsonDecoder) errf(format string, args ...any) *jsonErr {
	return &jsonErr{off: d.pos, msg: fmt.Sprintf(format, args...)}
}

func (d *jsonDecoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// describe names the byte at pos for an error message.
func (d *jsonDecoder) describe() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	if c := d.data[d.pos]; c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", d.data[d.pos])
}

func (d *jsonDecoder) value() (any, *jsonErr) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return nil, d.errf("unexpected end of input, expected a value")
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return d.object()
	case c == '[':
		return d.array()
	case c == '"':
		return d.stringValue()
	case c == '-' || c >= '0' && c <= '9':
		if n := scanNumber(d.data[d.pos:]); n > 0 {
			d.pos += n
			return json.Number(d.data[d.pos-n : d.pos]), nil
		}
		return nil, d.errf("invalid number")
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.errf("unexpected %s, expected a value", d.describe())
}

func (d *jsonDecoder) literal(word string) *jsonErr {
	if !strings.HasPrefix(string(d.data[d.pos:min(len(d.data), d.pos+len(word))]), word) {
		return d.errf("invalid literal, expected %s", word)
	}
	d.pos += len(word)
	return nil
}

// open consumes '{' or '[' and checks the nesting depth.
func (d *jsonDecoder) open() *jsonErr {
	if d.depth++; d.depth > maxJSONDepth {
		return d.errf("nesting deeper than %d levels", maxJSONDepth)
	}
	d.pos++
	d.skipSpace()
	return nil
}

// next consumes ',' (more members follow) or the closing byte (done).
func (d *jsonDecoder) next(closing byte) (bool, *jsonErr) {
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ',' {
		d.pos++
		d.skipSpace()
		return false, nil
	}
	if d.pos < len(d.data) && d.data[d.pos] == closing {
		d.pos++
		d.depth--
		return true, nil
	}
	return false, d.errf("unexpected %s, expected ',' or %q", d.describe(), closing)
}

// object parses an object starting at '{'.
func (d *jsonDecoder) object() (map[string]any, *jsonErr) {
	if err := d.open(); err != nil {
		return nil, err
	}
	base := len(d.members)
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return map[string]any{}, nil
	}
	for {
		m, err := d.member()
		if err != nil {
			return nil, err
		}
		d.members = append(d.members, m)
		if done, err := d.next('}'); err != nil {
			return nil, err
		} else if done {
			return d.buildObject(base)
		}
	}
}

// member parses `"key": value`.
func (d *jsonDecoder) member() (jsonMember, *jsonErr) {
	at := d.pos
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return jsonMember{}, d.errf("unexpected %s, expected a string key", d.describe())
	}
	raw, err := d.str()
	if err != nil {
		return jsonMember{}, err
	}
	key, ok := jsonKeys[string(raw)]
	if !ok {
		key = d.toString(raw, at+1)
	}
	if d.skipSpace(); d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return jsonMember{}, d.errf("unexpected %s, expected ':'", d.describe())
	}
	d.pos++
	v, err := d.value()
	if err != nil {
		return jsonMember{}, err.inKey(key)
	}
	if d.depth == 1 && key == "resourceType" {
		d.rootType, _ = v.(string)
	}
	return jsonMember{key: key, val: v, off: at}, nil
}

// buildObject pops the members above base into a map, rejecting duplicates.
func (d *jsonDecoder) buildObject(base int) (map[string]any, *jsonErr) {
	ms := d.members[base:]
	m := make(map[string]any, len(ms))
	for _, kv := range ms {
		m[kv.key] = kv.val
	}
	if len(m) != len(ms) {
		seen := make(map[string]bool, len(ms))
		for _, kv := range ms {
			if seen[kv.key] {
				return nil, (&jsonErr{off: kv.off, msg: fmt.Sprintf("duplicate key %q", kv.key)}).inKey(kv.key)
			}
			seen[kv.key] = true
		}
	}
	clear(ms) // the scratch stack must not keep values alive
	d.members = d.members[:base]
	return m, nil
}

func (d *jsonDecoder) array() (any, *jsonErr) {
	if err := d.open(); err != nil {
		return nil, err
	}
	base := len(d.items)
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return []any{}, nil
	}
	for {
		v, err := d.value()
		if err != nil {
			return nil, err.inIndex(len(d.items) - base)
		}
		d.items = append(d.items, v)
		if done, err := d.next(']'); err != nil {
			return nil, err
		} else if done {
			arr := d.alloc(len(d.items) - base)
			copy(arr, d.items[base:])
			clear(d.items[base:])
			d.items = d.items[:base]
			return arr, nil
		}
	}
}

// alloc returns a slice of n elements. Small arrays are carved out of a
// shared slab (capped, so appending to one copies it): one allocation for
// all the short arrays of a resource instead of one each.
func (d *jsonDecoder) alloc(n int) []any {
	if n > 16 {
		return make([]any, n)
	}
	if len(d.slab) < n {
		d.slab = make([]any, 128)
	}
	arr := d.slab[:n:n]
	d.slab = d.slab[n:]
	return arr
}

// scanNumber returns the length of the RFC 8259 number at the start of b, or 0.
func scanNumber(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		if i = skipDigits(b, i+1); b[i-1] == '.' {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
