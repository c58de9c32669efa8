package exchange

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"idem/registry"
	"idem/registry/secret"
)

// Secrets at rest: a peer's bearer token and SMART private key
// (endpoint_state.secret, smart_key) and a subscription's channel headers
// (subscriptions.headers) are stored sealed under the operator's key
// (Config.Secrets, see registry/secret), each bound to its row. They are
// opened only to make an outbound call, and never returned, logged or
// audited: reads show "***" in their place.

// Where each secret is stored: the additional data it is sealed with.
func bearerAt(id string) string   { return "endpoint/" + id + "/bearer" }
func smartKeyAt(id string) string { return "endpoint/" + id + "/smart-key" }
func headersAt(id string) string  { return "subscription/" + id + "/headers" }

// seal seals a secret an admin or client sent; without a key it is
// refused with a message saying what to configure.
func (s *Service) seal(plain, where, element string) (string, error) {
	out, err := s.cfg.Secrets.Seal(plain, where)
	if errors.Is(err, secret.ErrNoKey) {
		return "", registry.Invalid(registry.EUnprocessable, "invalid", element,
			"this server has no secret key to store credentials with: set IDEM_SECRET_KEY or IDEM_SECRET_KEY_FILE")
	}
	if err != nil {
		return "", registry.Internal(err)
	}
	return out, nil
}

// sealHeaders seals a subscription's channel headers ("Name: value"). A
// header sent back as "Name: ***" (as it was read) keeps the stored value
// of that name.
func (s *Service) sealHeaders(id string, headers []string, stored string) (string, error) {
	if len(headers) == 0 {
		return "", nil
	}
	var old []string
	if stored != "" {
		plain, err := s.cfg.Secrets.Open(stored, headersAt(id))
		if err != nil {
			return "", registry.Internal(err)
		}
		json.Unmarshal([]byte(plain), &old)
	}
	out := make([]string, len(headers))
	for i, h := range headers {
		name, val, _ := strings.Cut(h, ":")
		out[i] = h
		if strings.TrimSpace(val) != redacted {
			continue
		}
		found := false
		for _, o := range old {
			if oname, _, _ := strings.Cut(o, ":"); strings.EqualFold(strings.TrimSpace(oname), strings.TrimSpace(name)) {
				out[i], found = o, true
				break
			}
		}
		if !found {
			return "", registry.Invalid(registry.EUnprocessable, "invalid", "Subscription.channel.header",
				"header %q is sent as %s but no value of it is stored: send its value", strings.TrimSpace(name), redacted)
		}
	}
	js, _ := json.Marshal(out)
	return s.seal(string(js), headersAt(id), "Subscription.channel.header")
}

// headersOf opens a subscription's channel headers for a delivery.
func (s *Service) headersOf(r *subRow) ([]string, error) {
	plain, err := s.cfg.Secrets.Open(r.Headers, headersAt(r.ID))
	if err != nil || plain == "" {
		return nil, err
	}
	var hs []string
	if err := json.Unmarshal([]byte(plain), &hs); err != nil {
		return nil, fmt.Errorf("the headers of subscription %s: %w", r.ID, err)
	}
	return hs, nil
}

// bodyHeaders returns the channel headers in a stored Subscription body.
func bodyHeaders(body []byte) []string {
	var res struct {
		Channel struct {
			Header []string `json:"header"`
		} `json:"channel"`
	}
	json.Unmarshal(body, &res)
	return res.Channel.Header
}

// SealStored seals the secrets stored in plain text (by a version of idem
// before sealing, or with no key on SQLite): bearer tokens and SMART keys
// in place, subscription headers out of the body into their column. Each
// row is changed only if it is still as read, so instances starting
// together do it once. It returns the number of secrets sealed.
func (s *Service) SealStored(ctx context.Context) (int, error) {
	n := 0
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		n = 0
		var sts []endpointState
		if err := tx.Where("secret <> '' OR smart_key <> ''").Find(&sts).Error; err != nil {
			return err
		}
		for _, st := range sts {
			for _, c := range []struct{ col, val, at string }{{"secret", st.Secret, bearerAt(st.ID)}, {"smart_key", st.SmartKey, smartKeyAt(st.ID)}} {
				if c.val == "" || secret.IsSealed(c.val) {
					continue
				}
				sealed, err := s.cfg.Secrets.Seal(c.val, c.at)
				if err != nil {
					return err
				}
				if err := tx.Exec(`UPDATE endpoint_state SET `+c.col+` = ? WHERE id = ? AND `+c.col+` = ?`, sealed, st.ID, c.val).Error; err != nil {
					return err
				}
				n++
			}
		}
		var subs []subRow
		if err := tx.Where("headers = ''").Find(&subs).Error; err != nil {
			return err
		}
		for _, r := range subs {
			hs := bodyHeaders(r.Body)
			if len(hs) == 0 {
				continue
			}
			js, _ := json.Marshal(hs)
			sealed, err := s.cfg.Secrets.Seal(string(js), headersAt(r.ID))
			if err != nil {
				return err
			}
			var res map[string]any
			if err := json.Unmarshal(r.Body, &res); err != nil {
				return err
			}
			redactHeaders(res)
			body, _ := json.Marshal(res)
			if err := tx.Exec(`UPDATE subscriptions SET headers = ?, body = ? WHERE id = ? AND headers = ''`, sealed, body, r.ID).Error; err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// storedSecret is one sealed or plain secret as stored.
type storedSecret struct {
	table, col, id, val, at string
}

// storedSecrets lists every secret stored.
func storedSecrets(tx *gorm.DB) ([]storedSecret, error) {
	var out []storedSecret
	var sts []endpointState
	if err := tx.Where("secret <> '' OR smart_key <> ''").Find(&sts).Error; err != nil {
		return nil, err
	}
	for _, st := range sts {
		if st.Secret != "" {
			out = append(out, storedSecret{"endpoint_state", "secret", st.ID, st.Secret, bearerAt(st.ID)})
		}
		if st.SmartKey != "" {
			out = append(out, storedSecret{"endpoint_state", "smart_key", st.ID, st.SmartKey, smartKeyAt(st.ID)})
		}
	}
	var subs []subRow
	if err := tx.Where("headers <> ''").Find(&subs).Error; err != nil {
		return nil, err
	}
	for _, r := range subs {
		out = append(out, storedSecret{"subscriptions", "headers", r.ID, r.Headers, headersAt(r.ID)})
	}
	return out, nil
}

// CheckSecrets makes sure every stored secret opens with the configured
// keys, so a server started with a missing or wrong key says so at once
// instead of failing each pull and delivery. It also counts secrets still
// stored in plain text (which a server without a key cannot seal).
func (s *Service) CheckSecrets(ctx context.Context) (sealed, plain int, err error) {
	secs, err := storedSecrets(s.db.Read().WithContext(ctx))
	if err != nil {
		return 0, 0, err
	}
	for _, sec := range secs {
		if !secret.IsSealed(sec.val) {
			plain++
			continue
		}
		sealed++
		if _, err := s.cfg.Secrets.Open(sec.val, sec.at); err != nil {
			return sealed, plain, err
		}
	}
	return sealed, plain, nil
}

// Rotate seals every stored secret again under the current key (opening
// it with any key of the keyring); it returns how many it re-sealed.
func (s *Service) Rotate(ctx context.Context) (int, error) {
	if s.cfg.Secrets == nil {
		return 0, secret.ErrNoKey
	}
	n := 0
	err := s.db.Write(ctx, func(tx *gorm.DB) error {
		n = 0
		secs, err := storedSecrets(tx)
		if err != nil {
			return err
		}
		for _, sec := range secs {
			var out string
			if secret.IsSealed(sec.val) {
				var changed bool
				if out, changed, err = s.cfg.Secrets.Reseal(sec.val, sec.at); err != nil || !changed {
					if err != nil {
						return err
					}
					continue
				}
			} else if out, err = s.cfg.Secrets.Seal(sec.val, sec.at); err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE `+sec.table+` SET `+sec.col+` = ? WHERE id = ? AND `+sec.col+` = ?`, out, sec.id, sec.val).Error; err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
