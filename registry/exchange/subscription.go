package exchange

import (
	"encoding/json"
	"strconv"
	"strings"

	"idem/registry"
)

// Subscription statuses (R4 Subscription.status).
const (
	StatusRequested = "requested"
	StatusActive    = "active"
	StatusError     = "error"
	StatusOff       = "off"
)

// Payload contents (the backport-payload-content extension).
const (
	ContentEmpty = "empty"
	ContentIDs   = "id-only"
	ContentFull  = "full-resource"
)

// sub is a Subscription as parsed from its resource.
type sub struct {
	topic     Topic
	filters   []*filter
	endpoint  string
	content   string
	heartbeat int64 // seconds; 0: none
	maxCount  int64 // events per notification; 0: the default
	headers   []string
	status    string
}

// maxHeaders bounds channel.header; each header is at most maxHeaderLen.
const (
	maxHeaders   = 10
	maxHeaderLen = 4096
	maxFilters   = 10
)

// parseSub checks res as an R4 Subscription with the backport profile's
// extensions and reads what delivery needs. check vets the endpoint (the
// outbound allow-list); minBeat is the shortest heartbeat accepted.
func parseSub(res map[string]any, check func(string) error, minBeat int64) (*sub, error) {
	bad := func(where, format string, args ...any) error {
		return registry.Invalid(registry.EUnprocessable, "invalid", where, format, args...)
	}
	if res["resourceType"] != "Subscription" {
		return nil, registry.Invalid(registry.EInvalid, "invalid", "Subscription", "the body is not a Subscription")
	}
	s := &sub{content: ContentIDs, status: StatusRequested}
	crit, _ := res["criteria"].(string)
	t, ok := TopicByURL(crit)
	if !ok {
		return nil, bad("Subscription.criteria", "criteria %q is not a topic of this server (see the CapabilityStatement)", crit)
	}
	s.topic = t
	if st, ok := res["status"].(string); ok && st == StatusOff {
		s.status = StatusOff
	} else if ok && st != StatusRequested && st != StatusActive {
		return nil, bad("Subscription.status", "status %q: a client asks for requested, active or off", st)
	}
	for _, raw := range extensionValues(res["_criteria"], IG+"backport-filter-criteria", "valueString") {
		if len(s.filters) == maxFilters {
			return nil, bad("Subscription._criteria", "more than %d filter criteria", maxFilters)
		}
		f, err := parseFilter(raw, t.Type)
		if err != nil {
			return nil, err
		}
		s.filters = append(s.filters, f)
	}
	ch, _ := res["channel"].(map[string]any)
	if ch == nil {
		return nil, bad("Subscription.channel", "channel is required")
	}
	if ch["type"] != "rest-hook" {
		return nil, bad("Subscription.channel.type", "only the rest-hook channel is supported")
	}
	s.endpoint, _ = ch["endpoint"].(string)
	if err := check(s.endpoint); err != nil {
		return nil, bad("Subscription.channel.endpoint", "%v", err)
	}
	if p, ok := ch["payload"].(string); ok && p != "application/fhir+json" && p != "application/json" {
		return nil, bad("Subscription.channel.payload", "payload %q: only application/fhir+json", p)
	}
	if c := extensionValues(ch["_payload"], IG+"backport-payload-content", "valueCode"); len(c) > 0 {
		if c[0] != ContentEmpty && c[0] != ContentIDs && c[0] != ContentFull {
			return nil, bad("Subscription.channel.payload", "payload content %q: empty, id-only or full-resource", c[0])
		}
		s.content = c[0]
	}
	var err error
	if s.heartbeat, err = intExtension(ch, IG+"backport-heartbeat-period", "valueUnsignedInt"); err != nil {
		return nil, err
	}
	if s.heartbeat > 0 && s.heartbeat < minBeat {
		return nil, bad("Subscription.channel.extension", "heartbeat period below this server's minimum of %d s", minBeat)
	}
	if s.maxCount, err = intExtension(ch, IG+"backport-max-count", "valuePositiveInt"); err != nil {
		return nil, err
	}
	hs, _ := ch["header"].([]any)
	if len(hs) > maxHeaders {
		return nil, bad("Subscription.channel.header", "more than %d headers", maxHeaders)
	}
	for _, h := range hs {
		hv, _ := h.(string)
		name, _, ok := strings.Cut(hv, ":")
		if !ok || strings.TrimSpace(name) == "" || len(hv) > maxHeaderLen || strings.ContainsAny(hv, "\r\n") {
			return nil, bad("Subscription.channel.header", "a header reads \"Name: value\" on one line")
		}
		s.headers = append(s.headers, hv)
	}
	return s, nil
}

// extensionValues returns the value field of each extension with url in
// the element (or primitive's "_x" element) el.
func extensionValues(el any, url, field string) []string {
	m, _ := el.(map[string]any)
	exts, _ := m["extension"].([]any)
	var out []string
	for _, e := range exts {
		em, _ := e.(map[string]any)
		if em["url"] != url {
			continue
		}
		switch v := em[field].(type) {
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, v.String())
		case float64:
			out = append(out, strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	return out
}

func intExtension(el map[string]any, url, field string) (int64, error) {
	vs := extensionValues(el, url, field)
	if len(vs) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || n < 0 || n > 1<<31 {
		return 0, registry.Invalid(registry.EUnprocessable, "invalid", "Subscription.channel.extension", "%s is not a valid count", url)
	}
	return n, nil
}

// redactHeaders replaces header values in a Subscription returned to a
// client: they often carry the receiver's credentials.
func redactHeaders(res map[string]any) {
	ch, _ := res["channel"].(map[string]any)
	hs, _ := ch["header"].([]any)
	for i, h := range hs {
		if s, ok := h.(string); ok {
			name, _, _ := strings.Cut(s, ":")
			hs[i] = name + ": ***"
		}
	}
}
