package policy_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"idem/policy"
)

// Two instances on one database: a change made through one reaches the
// other at its next poll, rules and client revocations alike.
func TestReloadAcrossInstances(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a := mustOpen(t, db, policy.Config{Reload: 10 * time.Millisecond})
		b := mustOpen(t, db, policy.Config{Reload: 10 * time.Millisecond})
		tok := mustAddClient(t, a, "lab-west", "reader")
		lab := mustAuthenticate(t, b, tok) // b caches the token

		deny, _ := policy.ParseRule("p, client:lab-west, Patient, *, read, deny")
		if err := a.AddRule(ctx, deny); err != nil {
			t.Fatal(err)
		}
		eventually(t, "b sees the deny rule", func() bool { return !b.Decide(lab, "read", "Patient", nil).Allowed })
		if err := a.RemoveRule(ctx, deny); err != nil {
			t.Fatal(err)
		}
		eventually(t, "b sees the rule removed", func() bool { return b.Decide(lab, "read", "Patient", nil).Allowed })
		mustAuthenticate(t, b, tok) // cached again in b's new state

		if err := a.RevokeClient(ctx, "lab-west"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "b refuses the revoked token", func() bool {
			_, err := b.Authenticate(ctx, tok)
			return err != nil
		})
		eventually(t, "b at a's version", func() bool { return a.Version() == b.Version() })
	})
}

// eventually polls cond for up to ten seconds; it asserts the outcome, not
// the timing.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10 s", what)
}

// Many goroutines decide while rules change and reload underneath them (run
// with -race): no crash, no race, and every answer is one of the two
// policies' answers.
func TestConcurrentReload(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a := mustOpen(t, db, policy.Config{Reload: time.Millisecond})
		b := mustOpen(t, db, policy.Config{Reload: time.Millisecond}) // a second instance, polling
		ps := network(t, a)
		deny, _ := policy.ParseRule("p, role:reader, Patient, *, match, deny")

		var stop atomic.Bool
		var decisions, denied atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				inst := a
				if g%2 == 1 {
					inst = b
				}
				for !stop.Load() {
					d := inst.Decide(ps["lab-west"], "match", "Patient", nil)
					switch d.Rule {
					case "p, role:reader, Patient, *, match, allow":
					case "p, role:reader, Patient, *, match, deny":
						denied.Add(1)
					default:
						t.Errorf("unexpected decision %+v", d)
						return
					}
					if e := inst.Decide(ps["ehr-main"], "create", "Patient", []string{ehrDomain}); !e.Allowed {
						t.Errorf("unrelated decision changed: %+v", e)
						return
					}
					decisions.Add(1)
					runtime.Gosched() // let the reloads have their share of the two cores
				}
			}()
		}
		for range 6 {
			if err := a.AddRule(ctx, deny); err != nil {
				t.Fatal(err)
			}
			if err := b.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			if err := a.RemoveRule(ctx, deny); err != nil {
				t.Fatal(err)
			}
		}
		stop.Store(true)
		wg.Wait()
		t.Logf("%d decisions during 12 changes, %d denied", decisions.Load(), denied.Load())
		if d := a.Decide(ps["lab-west"], "match", "Patient", nil); !d.Allowed {
			t.Errorf("after the last removal: %+v", d)
		}
	})
}

// Without polling at all, a change made through another instance is in
// force at the next Authenticate: revocations, new domain owners and rules.
func TestNextRequestSeesOtherInstances(t *testing.T) {
	eachDB(t, func(t *testing.T, db testDB) {
		ctx := context.Background()
		a := mustOpen(t, db, policy.Config{Reload: -1})
		b := mustOpen(t, db, policy.Config{Reload: -1})
		tok := mustAddClient(t, a, "gp", "source")
		gp := mustAuthenticate(t, b, tok) // b caches the token
		mustAddClient(t, a, "late", "source", "http://late.example/mrn")
		mustAuthenticate(t, b, tok)
		if d := b.Decide(gp, "create", "Patient", []string{"HTTP://late.example/mrn/"}); d.Allowed {
			t.Errorf("b, next request after a new domain owner: %+v", d)
		}
		deny, _ := policy.ParseRule("p, client:gp, Patient, *, read, deny")
		if err := a.AddRule(ctx, deny); err != nil {
			t.Fatal(err)
		}
		mustAuthenticate(t, b, tok)
		if b.Decide(gp, "read", "Patient", nil).Allowed {
			t.Errorf("b, next request after a deny rule: allowed")
		}
		if err := a.RevokeClient(ctx, "gp"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, tok); err == nil {
			t.Errorf("b, next request after revocation: accepted")
		}
	})
}
