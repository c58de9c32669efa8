package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	m, err := DecodeJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestParseMessage reads PMIR and generic messages into their writes.
func TestParseMessage(t *testing.T) {
	header := func(event, focus string) string {
		return `{"fullUrl":"urn:uuid:1","resource":{"resourceType":"MessageHeader","id":"h","eventUri":"` + event + `","source":{"endpoint":"http://s"},"focus":[{"reference":"` + focus + `"}]}}`
	}
	history := `{"fullUrl":"http://s/fhir/Bundle/b","resource":{"resourceType":"Bundle","id":"b","type":"history","entry":[
	  {"fullUrl":"http://s/fhir/Patient/1","resource":{"resourceType":"Patient","id":"1"},"request":{"method":"POST","url":"Patient"}},
	  {"fullUrl":"http://s/fhir/Patient/2","resource":{"resourceType":"Patient","id":"2","active":false,"link":[{"other":{"reference":"Patient/1"},"type":"replaced-by"}]},"request":{"method":"PUT","url":"Patient/2"}},
	  {"request":{"method":"DELETE","url":"Patient/3"}}]}}`
	type write struct {
		Method, Type, LocalID string
		Deprecate             bool
	}
	for _, tc := range []struct {
		name    string
		bundle  string
		want    []write
		ignored []string
		err     string
	}{
		{name: "PMIR feed, focus by Type/id", bundle: `{"resourceType":"Bundle","type":"message","entry":[` + header(EventPMIRFeed, "Bundle/b") + `,` + history + `]}`,
			want: []write{{"POST", "Patient", "", false}, {"PUT", "Patient", "2", true}, {"DELETE", "Patient", "3", false}}},
		{name: "PMIR feed, focus by fullUrl", bundle: `{"resourceType":"Bundle","type":"message","entry":[` + header(EventPMIRFeed, "http://s/fhir/Bundle/b") + `,` + history + `]}`,
			want: []write{{"POST", "Patient", "", false}, {"PUT", "Patient", "2", true}, {"DELETE", "Patient", "3", false}}},
		{name: "generic history: no deprecation", bundle: `{"resourceType":"Bundle","type":"message","entry":[` + header("http://e/x", "Bundle/b") + `,` + history + `]}`,
			want: []write{{"POST", "Patient", "", false}, {"PUT", "Patient", "2", false}, {"DELETE", "Patient", "3", false}}},
		{name: "generic resources", bundle: `{"resourceType":"Bundle","type":"message","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"MessageHeader","id":"h","eventUri":"http://e/x","source":{"endpoint":"http://s"},
			"focus":[{"reference":"Location/l"},{"reference":"urn:uuid:p"},{"reference":"Encounter/e"}]}},
			{"fullUrl":"http://s/Location/l","resource":{"resourceType":"Location","id":"l"}},{"fullUrl":"urn:uuid:p","resource":{"resourceType":"Practitioner"}},
			{"fullUrl":"http://s/Encounter/e","resource":{"resourceType":"Encounter","id":"e"}}]}`,
			want: []write{{"PUT", "Location", "", false}, {"POST", "Practitioner", "", false}}, ignored: []string{"http://s/Encounter/e"}},
		{name: "PMIR focus not a history", bundle: `{"resourceType":"Bundle","type":"message","entry":[` + header(EventPMIRFeed, "Patient/1") + `,{"fullUrl":"http://s/Patient/1","resource":{"resourceType":"Patient","id":"1"}}]}`,
			err: "history Bundle"},
		{name: "not a message", bundle: `{"resourceType":"Bundle","type":"batch"}`, err: "type message"},
		{name: "focus elsewhere", bundle: `{"resourceType":"Bundle","type":"message","entry":[` + header(EventPMIRFeed, "Bundle/zz") + `]}`, err: "not an entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMessage(mustJSON(t, tc.bundle))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []write
			for _, w := range m.Writes {
				got = append(got, write{w.Method, w.Type, w.LocalID, w.Deprecate})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("writes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.ignored, m.Ignored); diff != "" {
				t.Errorf("ignored (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResponseCode: content errors are fatal, the store's and conflicts transient.
func TestResponseCode(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                  ResponseOK,
		Errorf(EForbidden, "no"):             ResponseFatal,
		Errorf(EUnprocessable, "no"):         ResponseFatal,
		Errorf(EConflict, "race"):            ResponseTransient,
		Internal(nil):                        ResponseTransient,
		Errorf(ETooManyRequest, "slow down"): ResponseTransient,
	} {
		if got := ResponseCode(err); got != want {
			t.Errorf("ResponseCode(%v) = %s, want %s", err, got, want)
		}
	}
}

// TestParseDocumentRoles: the Composition's references name the roles,
// and Patients are written after the Practitioners they may refer to.
func TestParseDocumentRoles(t *testing.T) {
	d, err := ParseDocument(mustJSON(t, `{"resourceType":"Bundle","type":"document","entry":[
	  {"fullUrl":"urn:uuid:c","resource":{"resourceType":"Composition","subject":{"reference":"urn:uuid:p"},"author":[{"reference":"Practitioner/a"}],
	    "custodian":{"reference":"urn:uuid:o"},"attester":[{"party":{"reference":"Practitioner/a"}}]}},
	  {"fullUrl":"urn:uuid:p","resource":{"resourceType":"Patient","id":"p1"}},
	  {"fullUrl":"http://x/Practitioner/a","resource":{"resourceType":"Practitioner","id":"a"}},
	  {"fullUrl":"urn:uuid:o","resource":{"resourceType":"Organization"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var roles, order []string
	for _, e := range d.Entries {
		roles = append(roles, e.Type+":"+strings.Join(e.Roles, "+")+":"+map[bool]string{true: "skipped", false: "written"}[e.Write == nil])
	}
	for _, w := range d.Writes {
		order = append(order, w.Type)
	}
	if diff := cmp.Diff([]string{"Composition::skipped", "Patient:subject:written", "Practitioner:author+attester:written", "Organization:custodian:skipped"}, roles); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Practitioner", "Patient"}, order); diff != "" {
		t.Errorf("write order (-want +got):\n%s", diff)
	}
}
