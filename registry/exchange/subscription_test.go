package exchange

import (
	"errors"
	"testing"

	"idem/registry"
)

func TestFilterMatches(t *testing.T) {
	pat := map[string]any{"resourceType": "Patient", "id": "p1",
		"identifier": []any{map[string]any{"system": "http://x", "value": "42"}},
		"name":       []any{map[string]any{"family": "García", "given": []any{"Ana"}}}}
	ix := registry.Extract("Patient", pat)
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{"Patient?identifier=http://x|", true},
		{"Patient?identifier=http://x|42", true},
		{"Patient?identifier=http://x|43", false},
		{"Patient?identifier=http://y|", false},
		{"Patient?identifier=42", true},
		{"Patient?family=garc", true},
		{"Patient?family=lopez", false},
		{"Patient?family:exact=García", true},
		{"Patient?_id=p1", true},
		{"Patient?identifier=http://y|,http://x|", true},
		{"Patient?identifier=http://x|&family=lopez", false},
	} {
		f, err := parseFilter(c.filter, "Patient")
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		if got := f.matches("p1", ix); got != c.want {
			t.Errorf("%s matches = %v, want %v", c.filter, got, c.want)
		}
	}
	for _, bad := range []string{"Practitioner?family=x", "Patient", "Patient?", "Patient?birthdate=2000", "Patient?family:missing=true", "Patient?nope=1"} {
		if _, err := parseFilter(bad, "Patient"); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestParseSub(t *testing.T) {
	allow := func(u string) error {
		if u != "https://hook.example/n" {
			return errors.New("not allowed")
		}
		return nil
	}
	ok := func() map[string]any {
		return map[string]any{"resourceType": "Subscription", "status": "requested", "criteria": TopicBase + "patient",
			"channel": map[string]any{"type": "rest-hook", "endpoint": "https://hook.example/n", "header": []any{"Authorization: Bearer x"},
				"extension": []any{map[string]any{"url": IG + "backport-heartbeat-period", "valueUnsignedInt": float64(60)}}}}
	}
	s, err := parseSub(ok(), allow, 10)
	if err != nil || s.content != ContentIDs || s.heartbeat != 60 || s.topic.Type != "Patient" {
		t.Fatalf("parseSub = %+v, %v", s, err)
	}
	for name, edit := range map[string]func(m map[string]any){
		"topic":    func(m map[string]any) { m["criteria"] = "Patient?x=1" },
		"channel":  func(m map[string]any) { m["channel"].(map[string]any)["type"] = "websocket" },
		"endpoint": func(m map[string]any) { m["channel"].(map[string]any)["endpoint"] = "https://evil.example/" },
		"header":   func(m map[string]any) { m["channel"].(map[string]any)["header"] = []any{"no colon"} },
		"heartbeat": func(m map[string]any) {
			m["channel"].(map[string]any)["extension"].([]any)[0].(map[string]any)["valueUnsignedInt"] = float64(1)
		},
		"status":  func(m map[string]any) { m["status"] = "error" },
		"payload": func(m map[string]any) { m["channel"].(map[string]any)["payload"] = "text/xml" },
	} {
		m := ok()
		edit(m)
		if _, err := parseSub(m, allow, 10); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Golden topics carry golden events of Person and Linkage; type topics
// only their own type and actions.
func TestTopicCarries(t *testing.T) {
	p, _ := TopicByURL(TopicBase + "patient-update")
	g, _ := TopicByURL(TopicBase + "golden")
	if !p.carries(&registry.Event{Kind: "update", Type: "Patient"}) || p.carries(&registry.Event{Kind: "create", Type: "Patient"}) ||
		p.carries(&registry.Event{Kind: "update", Type: "Location"}) {
		t.Error("patient-update carries the wrong events")
	}
	if !g.carries(&registry.Event{Kind: registry.EventGoldenMerged, Type: "Linkage"}) || g.carries(&registry.Event{Kind: "create", Type: "Person"}) {
		t.Error("golden carries the wrong events")
	}
}
