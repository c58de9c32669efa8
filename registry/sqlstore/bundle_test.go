package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"idem/registry"
	"idem/registry/fhir"
)

func bundle(t *testing.T, svc *registry.Service, js string) (map[string]any, error) {
	t.Helper()
	b, err := fhir.ParseResource([]byte(js), "Bundle")
	if err != nil {
		t.Fatalf("parse bundle: %v", err)
	}
	return svc.Bundle(context.Background(), b, registry.BundleOptions{Return: "representation", Base: "http://test/fhir"})
}

func responses(t *testing.T, out map[string]any) []map[string]any {
	var rs []map[string]any
	for _, e := range out["entry"].([]any) {
		rs = append(rs, e.(map[string]any))
	}
	return rs
}

func TestTransactionResolvesReferences(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		org := mustCreate(t, svc, `{"resourceType":"Location","identifier":[{"system":"urn:loc","value":"L1"}],"name":"Site"}`)
		out, err := bundle(t, svc, `{"resourceType":"Bundle","type":"transaction","entry":[
			{"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Person","name":[{"family":"Tx"}],
			  "link":[{"target":{"reference":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"}}]},
			 "request":{"method":"POST","url":"Person"}},
			{"fullUrl":"urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059","resource":{"resourceType":"Patient","name":[{"family":"Tx"}]},
			 "request":{"method":"POST","url":"Patient"}},
			{"resource":{"resourceType":"Location","name":"Ward","partOf":{"reference":"Location?identifier=urn:loc|L1"}},
			 "request":{"method":"POST","url":"Location"}}]}`)
		if err != nil {
			t.Fatal(err)
		}
		rs := responses(t, out)
		patientID := rs[1]["resource"].(map[string]any)["id"].(string)
		person := rs[0]["resource"].(map[string]any)
		ref := person["link"].([]any)[0].(map[string]any)["target"].(map[string]any)["reference"]
		if ref != "Patient/"+patientID {
			t.Fatalf("urn:uuid reference rewritten to %v, want Patient/%s", ref, patientID)
		}
		ward := rs[2]["resource"].(map[string]any)
		if got := ward["partOf"].(map[string]any)["reference"]; got != "Location/"+org.ID {
			t.Fatalf("conditional reference rewritten to %v", got)
		}
		if got := rs[0]["response"].(map[string]any)["status"]; got != "201 Created" {
			t.Fatalf("status %v", got)
		}
		if res := search(t, svc, "Person", "link=Patient/"+patientID); res.Total != 1 {
			t.Fatalf("Person not linked in the index: %d", res.Total)
		}
	})
}

func TestTransactionAllOrNothing(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		existing := mustCreate(t, svc, patientJSON("Keep", "Me", "1990-01-01", "k"))
		_, err := bundle(t, svc, fmt.Sprintf(`{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":%s,"request":{"method":"POST","url":"Patient"}},
			{"request":{"method":"DELETE","url":"Patient/%s"}},
			{"resource":{"resourceType":"Patient","id":"x1"},"request":{"method":"PUT","url":"Patient/x1","ifMatch":"W/\"4\""}}]}`,
			patientJSON("Never", "Stored", "1990-01-01", "n"), existing.ID))
		wantCode(t, err, registry.EPrecondition)
		if !strings.Contains(err.Error(), "Bundle.entry[2]") {
			t.Fatalf("error does not name the entry: %v", err)
		}
		if res := search(t, svc, "Patient", "family=never"); res.Total != 0 {
			t.Fatal("a failed transaction stored a resource")
		}
		if _, err := svc.Read(context.Background(), "Patient", existing.ID); err != nil {
			t.Fatalf("a failed transaction deleted a resource: %v", err)
		}
		_, err = bundle(t, svc, `{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Patient","link":[{"other":{"reference":"urn:uuid:0c8b4a5e-4a0f-4a43-9f0e-000000000000"},"type":"seealso"}]},
			 "request":{"method":"POST","url":"Patient"}}]}`)
		wantCode(t, err, registry.EInvalid)
		_, err = bundle(t, svc, `{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Patient","id":"d"},"request":{"method":"PUT","url":"Patient/d"}},
			{"resource":{"resourceType":"Patient","id":"d"},"request":{"method":"PUT","url":"Patient/d"}}]}`)
		wantCode(t, err, registry.EInvalid)
	})
}

func TestBatchIndependentEntries(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		p := mustCreate(t, svc, patientJSON("Batch", "Read", "1990-01-01", "b"))
		out, err := bundle(t, svc, fmt.Sprintf(`{"resourceType":"Bundle","type":"batch","entry":[
			{"resource":%s,"request":{"method":"POST","url":"Patient"}},
			{"request":{"method":"GET","url":"Patient/%s"}},
			{"request":{"method":"GET","url":"Patient/missing"}},
			{"request":{"method":"GET","url":"Patient?family=batch"}},
			{"resource":{"resourceType":"Patient","id":"y"},"request":{"method":"PUT","url":"Patient/y","ifMatch":"W/\"9\""}}]}`,
			patientJSON("Batch", "New", "1990-01-01", "b2"), p.ID))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range responses(t, out) {
			got = append(got, r["response"].(map[string]any)["status"].(string))
		}
		want := []string{"201 Created", "200 OK", "404 Not Found", "200 OK", "412 Precondition Failed"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	})
}
