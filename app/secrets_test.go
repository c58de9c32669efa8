package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"idem/registry/exchange"
	"idem/registry/secret"
	"idem/registry/sqlstore/sqltest"
)

// The plain texts of the secrets the tests store.
const (
	peerToken  = "peer-token-s3cret-7f3a9c"
	hookSecret = "hook-s3cret-51d2e8"
)

// hookReceiver answers every notification 200 and records its
// Authorization header.
type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h.mu.Lock()
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// calls returns how many notifications carried the header value want.
func (h *hookReceiver) calls(want string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, a := range h.auth {
		if a == want {
			n++
		}
	}
	return n
}

// startStop starts a test server on dsn that logs JSON to logs; stop
// closes it (once; also when the test ends), so another can start on dsn.
func startStop(t *testing.T, dsn string, logs io.Writer, edit func(*Config)) (*testServer, func()) {
	t.Helper()
	inst, err := Start(context.Background(), testConfig(dsn, edit), slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	var once sync.Once
	stop := func() { once.Do(func() { inst.Close() }) }
	t.Cleanup(stop)
	return &testServer{Instance: inst, t: t, base: inst.URL() + "/fhir"}, stop
}

// startErr starts a server on dsn that must refuse to start, and returns why.
func startErr(t *testing.T, dsn string, edit func(*Config)) string {
	t.Helper()
	inst, err := Start(context.Background(), testConfig(dsn, edit), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		inst.Close()
		t.Fatal("the server started")
	}
	return err.Error()
}

// keyConfig sets the secret key (base64; "" leaves it unset) and the
// outbound allow-list the tests call.
func keyConfig(key string, edit ...func(*Config)) func(*Config) {
	return func(c *Config) {
		c.SecretKey, c.OutboundAllow = key, "127.0.0.1"
		for _, e := range edit {
			e(c)
		}
	}
}

// storedSecrets are the ids of what storeSecrets stored.
type storedSecrets struct{ bearerEP, smartEP, sub string }

// storeSecrets stores an Endpoint with a bearer token, one with a SMART
// private key, and a subscription to Patients at hook with an
// Authorization header; it returns their ids and the private key's PEM.
func storeSecrets(t *testing.T, s *testServer, hook string) (storedSecrets, string) {
	t.Helper()
	var ids storedSecrets
	r := s.do("POST", "/Endpoint", endpointJSON("http://127.0.0.1:9/fhir", "peer-x", "http://x.example", peerToken, "3600"))
	if r.status != 201 {
		t.Fatalf("Endpoint with a bearer token: %d %s", r.status, r.body)
	}
	ids.bearerEP = r.json(t)["id"].(string)
	sc := newSMARTClient(t, "x-puller")
	body := smartEndpointJSON(t, "http://127.0.0.1:9/fhir", "peer-x", "http://x.example", "http://127.0.0.1:9/auth/token", sc)
	r = s.do("POST", "/Endpoint", body)
	if r.status != 201 {
		t.Fatalf("Endpoint with a SMART key: %d %s", r.status, r.body)
	}
	ids.smartEP = r.json(t)["id"].(string)
	sub := strings.Replace(subscriptionJSON(exchange.TopicBase+"patient", hook, "id-only"), "Bearer receiver-secret", "Bearer "+hookSecret, 1)
	r = s.do("POST", "/Subscription", sub)
	if r.status != 201 {
		t.Fatalf("Subscription: %d %s", r.status, r.body)
	}
	ids.sub = r.json(t)["id"].(string)
	i := strings.Index(body, "-----BEGIN")
	keyPEM := strings.ReplaceAll(body[i:i+strings.Index(body[i:], `"`)], `\n`, "\n")
	return ids, keyPEM
}

// secretColumns reads every column a secret is stored in, and the
// subscriptions' bodies.
func secretColumns(t *testing.T, db *gorm.DB) (secrets []string, bodies []string) {
	t.Helper()
	var eps []struct{ Secret, SmartKey string }
	if err := db.Raw(`SELECT secret, smart_key FROM endpoint_state`).Scan(&eps).Error; err != nil {
		t.Fatal(err)
	}
	for _, e := range eps {
		for _, v := range []string{e.Secret, e.SmartKey} {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	var subs []struct {
		Headers string
		Body    []byte
	}
	if err := db.Raw(`SELECT headers, body FROM subscriptions`).Scan(&subs).Error; err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		secrets = append(secrets, s.Headers)
		bodies = append(bodies, string(s.Body))
	}
	return secrets, bodies
}

// mustBeSealed checks that every stored secret is sealed under key id
// and that no plain text appears in the secret columns or the bodies.
func mustBeSealed(t *testing.T, db *gorm.DB, keyID string, plain ...string) {
	t.Helper()
	secs, bodies := secretColumns(t, db)
	if len(secs) != 3 {
		t.Fatalf("%d secrets stored, want 3", len(secs))
	}
	for _, v := range append(secs, bodies...) {
		for _, p := range plain {
			if strings.Contains(v, p) {
				t.Fatalf("a stored value holds the plain text %q: %s", p, v)
			}
		}
	}
	for _, v := range secs {
		if !secret.IsSealed(v) || secret.SealedUnder(v) != keyID {
			t.Fatalf("stored secret %.40s… is not sealed under key %s", v, keyID)
		}
	}
}

// mustNotShow fails when any of the secrets is in body.
func mustNotShow(t *testing.T, what string, body []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(body, []byte(s)) || bytes.Contains(body, []byte(strings.ReplaceAll(s, "\n", `\n`))) {
			t.Fatalf("%s shows a secret: %s", what, body)
		}
	}
}

func newTestKey(t *testing.T) string {
	k, err := secret.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return secret.EncodeKey(k)
}

func keyIDOf(t *testing.T, b64 string) string {
	k, err := secret.ParseKey(b64)
	if err != nil {
		t.Fatal(err)
	}
	return secret.KeyID(k)
}

// Credentials for other servers are stored sealed: the stored bytes are
// not the plain text; the API, the admin API, AuditEvents and the logs
// never show them; deliveries still carry them. On SQLite without a key
// the key is generated beside the database, readable by its owner only.
func TestSecretsSealedAtRest(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn := sqltest.DSN(t, kind)
			logs := &syncBuffer{}
			key := ""
			if kind == "postgres" {
				key = testSecretKey
			}
			s, _ := startStop(t, dsn, logs, keyConfig(key))
			hook := newHookReceiver(t)
			ids, keyPEM := storeSecrets(t, s, hook.URL)
			all := []string{peerToken, hookSecret, keyPEM}

			if kind == "sqlite" {
				st, err := os.Stat(dsn + ".key")
				if err != nil || st.Mode().Perm() != 0o600 {
					t.Fatalf("generated key file: %v %v", st, err)
				}
				b, _ := os.ReadFile(dsn + ".key")
				key = strings.TrimSpace(string(b))
				if !strings.Contains(logs.buf.String(), "generated the key that seals stored credentials") {
					t.Fatalf("the key's generation is not logged: %s", logs.buf.String())
				}
			}
			mustBeSealed(t, s.store.ReadDB(), keyIDOf(t, key), all...)

			ep := s.do("GET", "/Endpoint/"+ids.bearerEP, "")
			if ep.status != 200 || !strings.Contains(string(ep.body), `"valueString":"***"`) {
				t.Fatalf("Endpoint read: %d %s", ep.status, ep.body)
			}
			sm := s.do("GET", "/Endpoint/"+ids.smartEP, "")
			if !strings.Contains(compact(string(sm.body)), `{"url":"privateKey","valueString":"***"}`) {
				t.Fatalf("SMART Endpoint read: %s", sm.body)
			}
			sub := s.do("GET", "/Subscription/"+ids.sub, "")
			if !strings.Contains(string(sub.body), "Authorization: ***") {
				t.Fatalf("Subscription read: %s", sub.body)
			}
			for what, r := range map[string]*response{"Endpoint read": ep, "SMART Endpoint read": sm, "Subscription read": sub,
				"Endpoint search": s.do("GET", "/Endpoint?_count=50", ""), "Subscription search": s.do("GET", "/Subscription", "")} {
				mustNotShow(t, what, r.body, all...)
			}
			// A client sending back what it read keeps the stored header.
			put := strings.Replace(string(sub.body), `"status":"active"`, `"status":"requested"`, 1)
			if r := s.do("PUT", "/Subscription/"+ids.sub, put); r.status != 200 {
				t.Fatalf("PUT of the Subscription as read: %d %s", r.status, r.body)
			}

			before := hook.calls("Bearer " + hookSecret)
			s.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Sealed"}]}`)
			waitFor(t, "a notification with the stored header", 45*time.Second, func() bool { return hook.calls("Bearer "+hookSecret) > before })

			req, _ := http.NewRequest("GET", s.URL()+"/admin/api/subscriptions", nil)
			req.Header.Set("Authorization", "Bearer "+testAdminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("admin API subscriptions: %v %v", resp, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mustNotShow(t, "the admin API's subscriptions", b, all...)
			audit := s.do("GET", "/AuditEvent?_count=500", "")
			if audit.status != 200 || !strings.Contains(string(audit.body), "AuditEvent") {
				t.Fatalf("AuditEvent search: %d %.300s", audit.status, audit.body)
			}
			mustNotShow(t, "the AuditEvents", audit.body, all...)
			mustNotShow(t, "the log", logs.buf.Bytes(), all...)
		})
	}
}

// A missing or wrong key stops the start with the key id it needs (never
// garbage); `idem secrets rotate` re-seals under a new key, reading with
// the old one; afterwards the old key alone no longer opens them.
func TestSecretsWrongKeyAndRotation(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn := sqltest.DSN(t, kind)
			keyA, keyB := newTestKey(t), newTestKey(t)
			hook := newHookReceiver(t)
			s, stop := startStop(t, dsn, io.Discard, keyConfig(keyA))
			ids, keyPEM := storeSecrets(t, s, hook.URL)
			all := []string{peerToken, hookSecret, keyPEM}
			stop()

			msg := startErr(t, dsn, keyConfig(keyB))
			if !strings.Contains(msg, keyIDOf(t, keyA)) || !strings.Contains(msg, "IDEM_SECRET_KEY") {
				t.Fatalf("start with the wrong key: %s", msg)
			}
			mustNotShow(t, "the error", []byte(msg), all...)
			msg = startErr(t, dsn, keyConfig(""))
			if kind == "postgres" && !strings.Contains(msg, "no secret key is configured") {
				t.Fatalf("start on PostgreSQL without a key: %s", msg)
			}
			if kind == "sqlite" && !strings.Contains(msg, keyIDOf(t, keyA)) { // a new key file beside it is not the key
				t.Fatalf("start on SQLite without the key: %s", msg)
			}

			var out, errOut bytes.Buffer
			env := map[string]string{"IDEM_DB": dsn, "IDEM_SECRET_KEY": keyB, "IDEM_SECRET_KEY_OLD": keyA, "IDEM_LOG_LEVEL": "error"}
			if code := Main(context.Background(), []string{"secrets", "rotate"}, func(k string) string { return env[k] }, &out, &errOut); code != 0 ||
				!strings.Contains(out.String(), "re-sealed 3 stored credentials under key "+keyIDOf(t, keyB)) {
				t.Fatalf("idem secrets rotate: %d %s %s", code, out.String(), errOut.String())
			}
			mustNotShow(t, "rotate's output", append(out.Bytes(), errOut.Bytes()...), all...)

			if msg := startErr(t, dsn, keyConfig(keyA)); !strings.Contains(msg, keyIDOf(t, keyB)) {
				t.Fatalf("start with the old key after rotation: %s", msg)
			}
			s, _ = startStop(t, dsn, io.Discard, keyConfig(keyB))
			mustBeSealed(t, s.store.ReadDB(), keyIDOf(t, keyB), all...)
			if r := s.do("GET", "/Endpoint/"+ids.bearerEP, ""); !strings.Contains(string(r.body), `"valueString":"***"`) {
				t.Fatalf("Endpoint after rotation: %s", r.body)
			}
			before := hook.calls("Bearer " + hookSecret)
			s.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Rotated"}]}`)
			waitFor(t, "a notification with the header after rotation", 45*time.Second, func() bool { return hook.calls("Bearer "+hookSecret) > before })
		})
	}
}

// Credentials stored in plain text (by idem before sealing) are sealed
// when the server starts, and still used.
func TestSecretsPlainRowsSealedOnStart(t *testing.T) {
	for _, kind := range sqltest.Kinds() {
		t.Run(kind, func(t *testing.T) {
			dsn := sqltest.DSN(t, kind)
			key := newTestKey(t)
			hook := newHookReceiver(t)
			s, stop := startStop(t, dsn, io.Discard, keyConfig(key))
			ids, keyPEM := storeSecrets(t, s, hook.URL)
			// Back to how an earlier idem stored them: in plain text, the
			// headers inside the body.
			var body []byte
			err := s.store.WriteDB(context.Background(), func(tx *gorm.DB) error {
				if err := tx.Raw(`SELECT body FROM subscriptions WHERE id = ?`, ids.sub).Row().Scan(&body); err != nil {
					return err
				}
				body = bytes.Replace(body, []byte("Authorization: ***"), []byte("Authorization: Bearer old-plain-hook"), 1)
				return tx.Exec(`UPDATE subscriptions SET headers = '', body = ? WHERE id = ?`, body, ids.sub).Error
			})
			if err == nil {
				err = s.store.WriteDB(context.Background(), func(tx *gorm.DB) error {
					return tx.Exec(`UPDATE endpoint_state SET secret = ? WHERE id = ?`, "old-plain-token", ids.bearerEP).Error
				})
			}
			if err != nil || !bytes.Contains(body, []byte("old-plain-hook")) {
				t.Fatalf("making the rows plain: %v %s", err, body)
			}
			stop()

			logs := &syncBuffer{}
			s, _ = startStop(t, dsn, logs, keyConfig(key))
			if !strings.Contains(logs.buf.String(), `"msg":"sealed credentials stored in plain text","count":2`) {
				t.Fatalf("the sealing is not logged: %s", logs.buf.String())
			}
			mustBeSealed(t, s.store.ReadDB(), keyIDOf(t, key), "old-plain-token", "old-plain-hook", keyPEM)
			if r := s.do("GET", "/Subscription/"+ids.sub, ""); !strings.Contains(string(r.body), "Authorization: ***") || strings.Contains(string(r.body), "old-plain") {
				t.Fatalf("Subscription after sealing: %s", r.body)
			}
			s.do("POST", "/Patient", `{"resourceType":"Patient","name":[{"family":"Migrated"}]}`)
			waitFor(t, "a notification with the migrated header", 45*time.Second, func() bool { return hook.calls("Bearer old-plain-hook") > 0 })
		})
	}
}

// keyFileBeside names the default key file of SQLite DSNs.
func TestKeyFileBeside(t *testing.T) {
	for dsn, want := range map[string]string{"idem.db": "idem.db.key", "/var/lib/idem/idem.db?_foo=1": "/var/lib/idem/idem.db.key",
		"file:/x/y.db": "/x/y.db.key", ":memory:": "", "file:mem?mode=memory&cache=shared": ""} {
		if got := keyFileBeside(dsn); got != want {
			t.Errorf("keyFileBeside(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// On PostgreSQL no key is generated: without one idem starts while no
// credential is stored, and refuses to store one (422 naming the
// setting, nothing stored).
func TestSecretsNeedKeyOnPostgres(t *testing.T) {
	dsn := sqltest.DSN(t, "postgres")
	s := startWith(t, dsn, func(c *Config) { c.SecretKey, c.OutboundAllow = "", "127.0.0.1" })
	r := s.do("POST", "/Endpoint", endpointJSON("http://127.0.0.1:9/fhir", "peer-x", "http://x.example", peerToken, "3600"))
	if r.status != 422 || !strings.Contains(string(r.body), "IDEM_SECRET_KEY") {
		t.Fatalf("Endpoint with a token, no key: %d %s", r.status, r.body)
	}
	r = s.do("POST", "/Subscription", strings.Replace(subscriptionJSON(exchange.TopicBase+"patient", "http://127.0.0.1:9/hook", "id-only"),
		"Bearer receiver-secret", "Bearer "+hookSecret, 1))
	if r.status != 422 || !strings.Contains(string(r.body), "IDEM_SECRET_KEY") {
		t.Fatalf("Subscription with a header, no key: %d %s", r.status, r.body)
	}
	var n int64
	s.store.ReadDB().Raw(`SELECT (SELECT COUNT(*) FROM admin_resources) + (SELECT COUNT(*) FROM subscriptions)`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d rows stored by refused requests", n)
	}
	if r := s.do("POST", "/Endpoint", strings.Replace(endpointJSON("http://127.0.0.1:9/fhir", "peer-x", "http://x.example", "", "3600"),
		`{"url":"`+exchange.ExtBearerToken+`","valueString":""},`, "", 1)); r.status != 201 {
		t.Fatalf("Endpoint without a credential, no key: %d %s", r.status, r.body)
	}
}

// A credential in the standard Endpoint.header would be kept in plain text
// and shown on every read: it is refused (422, naming the sealed
// extension to use), nothing is stored; other headers are kept.
func TestEndpointHeaderCredentialRefused(t *testing.T) {
	s := startWith(t, sqltest.DSN(t, "sqlite"), func(c *Config) { c.OutboundAllow = "127.0.0.1" })
	withHeader := func(h string) string {
		return strings.Replace(endpointJSON("http://127.0.0.1:9/fhir", "peer-x", "http://x.example", "", "3600"),
			`"address"`, `"header":["`+h+`"],"address"`, 1)
	}
	for _, h := range []string{"Authorization: Bearer s3cr3t-value", "X-Api-Key: s3cr3t-value", "cookie: session=s3cr3t-value"} {
		r := s.do("POST", "/Endpoint", withHeader(h))
		if r.status != 422 || !strings.Contains(string(r.body), exchange.ExtBearerToken) || strings.Contains(string(r.body), "s3cr3t-value") {
			t.Errorf("Endpoint.header %q: %d %s", h, r.status, r.body)
		}
	}
	var n int64
	s.store.ReadDB().Raw(`SELECT COUNT(*) FROM admin_resources`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d Endpoints stored by refused requests", n)
	}
	if r := s.do("POST", "/Endpoint", withHeader("X-Tenant: north")); r.status != 201 || !strings.Contains(string(r.body), "X-Tenant: north") {
		t.Fatalf("Endpoint with a plain header: %d %s", r.status, r.body)
	}
}
