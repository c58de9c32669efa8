package app

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"idem/registry/exchange"
	"idem/registry/sqlstore/sqltest"
)

// smartEndpointJSON is an Endpoint for peer base that pulls types as
// client, authenticating at the peer as SMART Backend Services client sc
// (its private key in PEM) at tokenURL.
func smartEndpointJSON(t *testing.T, base, client, system, tokenURL string, sc smartClient, types ...string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(sc.key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	exts := []any{
		map[string]any{"url": exchange.ExtClient, "valueString": client},
		map[string]any{"url": exchange.ExtSourceSystem, "valueUri": system},
		map[string]any{"url": exchange.ExtPullEvery, "valueUnsignedInt": 3600},
		map[string]any{"url": exchange.ExtSMART, "extension": []any{
			map[string]any{"url": "clientId", "valueString": sc.name},
			map[string]any{"url": "tokenUrl", "valueUrl": tokenURL},
			map[string]any{"url": "keyId", "valueString": sc.name + "-1"},
			map[string]any{"url": "alg", "valueCode": "ES384"},
			map[string]any{"url": "scope", "valueString": "system/*.rs"},
			map[string]any{"url": "privateKey", "valueString": keyPEM},
		}},
	}
	for _, typ := range types {
		exts = append(exts, map[string]any{"url": exchange.ExtPullType, "valueCode": typ})
	}
	b, _ := json.Marshal(map[string]any{"resourceType": "Endpoint", "status": "active", "name": "Source of truth A",
		"connectionType": map[string]any{"system": "http://terminology.hl7.org/CodeSystem/endpoint-connection-type", "code": "hl7-fhir-rest"},
		"payloadType":    []any{map[string]any{"text": "FHIR R4"}}, "address": base, "extension": exts})
	return string(b)
}

// A is the source of truth for Practitioners; B keeps read-only copies
// (IDEM_SHARING=Practitioner=source-of-truth, written only by the client A's
// records come as) by notified pull, and authenticates its pulls at A as a
// SMART Backend Services client (a signed assertion traded at A's token
// endpoint) whose private key B stores and never returns.
func TestSMARTNotifiedPullOfSourceOfTruth(t *testing.T) {
	edit := func(c *Config) {
		c.OutboundAllow = "127.0.0.1"
		c.RetryMin, c.RetryMax = 20*time.Millisecond, 500*time.Millisecond
	}
	a := startWith(t, sqltest.DSN(t, "sqlite"), edit)
	b := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) {
		edit(c)
		c.Sharing, c.Authoritative = "Practitioner=source-of-truth", "Practitioner=peer-a"
	})
	// On A: B's puller, a SMART client with a key pair and read access.
	puller := newSMARTClient(t, "b-puller")
	if st, out := a.raw("POST", "/admin/api/clients", "application/json",
		`{"name":"b-puller","system":"http://b.example","roles":["reader"],"jwks":`+puller.jwks+`}`, "Authorization", "Bearer "+testAdminToken); st != 201 {
		t.Fatalf("SMART client on A: %d %v", st, out)
	}
	// On B: the client A's records are written as, and A as a peer.
	tokenOnB := b.addClient(`{"name":"peer-a","system":"http://a.example","roles":["source"]}`)
	r := b.do("POST", "/Endpoint", smartEndpointJSON(t, a.base, "peer-a", "http://a.example", a.URL()+"/auth/token", puller, "Practitioner"))
	if r.status != 201 || strings.Contains(string(r.body), "PRIVATE KEY") || !strings.Contains(string(r.body), `"privateKey","valueString":"***"`) {
		t.Fatalf("Endpoint with SMART credentials: %d %s", r.status, r.body)
	}
	ep := r.json(t)["id"].(string)
	if got := b.do("GET", "/Endpoint/"+ep, ""); strings.Contains(string(got.body), "PRIVATE KEY") {
		t.Fatalf("the private key was returned: %s", got.body)
	}
	// B subscribes to A's Practitioners with B's $notify as the rest-hook.
	sub := `{"resourceType":"Subscription","status":"requested","reason":"read-only copies","criteria":"` + exchange.TopicBase + `practitioner",
	"channel":{"type":"rest-hook","endpoint":"` + b.base + `/Endpoint/` + ep + `/$notify","payload":"application/fhir+json",
	"header":["Authorization: Bearer ` + tokenOnB + `"]}}`
	if got := a.do("POST", "/Subscription", sub); got.status != 201 {
		t.Fatalf("subscription on A: %d %s", got.status, got.body)
	}
	pr := a.do("POST", "/Practitioner", `{"resourceType":"Practitioner","identifier":[{"system":"http://a.example/npi","value":"77"}],"name":[{"family":"Truthful"}]}`)
	prID := pr.json(t)["id"].(string)
	waitFor(t, "B's copy of the new Practitioner", 30*time.Second, func() bool {
		return strings.Contains(string(b.do("GET", "/Practitioner?family=Truthful", "").body), `"total":1`)
	})
	a.do("PUT", "/Practitioner/"+prID, `{"resourceType":"Practitioner","id":"`+prID+`","identifier":[{"system":"http://a.example/npi","value":"77"}],"name":[{"family":"Truthfull"}]}`)
	waitFor(t, "B's copy of the update", 30*time.Second, func() bool {
		return strings.Contains(string(b.do("GET", "/Practitioner?family=Truthfull", "").body), `"total":1`)
	})
	// The copies are read-only on B: another source may not write them.
	other := b.addClient(`{"name":"other-src","system":"http://other.example","roles":["source"]}`)
	if got := b.do("POST", "/Practitioner", `{"resourceType":"Practitioner","name":[{"family":"Intruder"}]}`, bearer(other)...); got.status != 403 {
		t.Fatalf("a write by another source on B: %d %s", got.status, got.body)
	}
	// Refused Endpoints: a token URL outside the allow-list, a key that
	// does not fit its algorithm, a bearer token beside SMART credentials.
	bad := smartEndpointJSON(t, a.base, "peer-a", "http://a.example", "http://evil.example/auth/token", puller, "Practitioner")
	if got := b.do("POST", "/Endpoint", bad); got.status != 422 || !strings.Contains(string(got.body), "tokenUrl") {
		t.Errorf("token URL not allowed: %d %s", got.status, got.body)
	}
	rs := strings.Replace(smartEndpointJSON(t, a.base, "peer-a", "http://a.example", a.URL()+"/auth/token", puller, "Practitioner"), `"ES384"`, `"RS384"`, 1)
	if got := b.do("POST", "/Endpoint", rs); got.status != 422 || !strings.Contains(string(got.body), "alg") {
		t.Errorf("EC key with RS384: %d %s", got.status, got.body)
	}
	both := strings.Replace(smartEndpointJSON(t, a.base, "peer-a", "http://a.example", a.URL()+"/auth/token", puller, "Practitioner"),
		`"extension":[`, `"extension":[{"url":"`+exchange.ExtBearerToken+`","valueString":"x"},`, 1)
	if got := b.do("POST", "/Endpoint", both); got.status != 422 {
		t.Errorf("bearer token and SMART: %d %s", got.status, got.body)
	}
}
