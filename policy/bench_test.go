package policy_test

import (
	"context"
	"strconv"
	"testing"

	"idem/policy"
)

// benchAuthorizer is a source client writing a Patient with identifiers in
// its own domain and an unowned one: three checks, two subjects, two domains.
func benchAuthorizer(b *testing.B) (*policy.Authorizer, policy.Principal) {
	a := mustOpen(b, openSQLite(b), policy.Config{})
	mustAddClient(b, a, "lab-east", "source", labDomain)
	p := mustAuthenticate(b, a, mustAddClient(b, a, "ehr-main", "source", ehrDomain))
	if d := a.Decide(p, "create", "Patient", []string{ehrDomain, ssn}); !d.Allowed {
		b.Fatalf("setup: %+v", d)
	}
	return a, p
}

func BenchmarkDecide(b *testing.B) {
	a, p := benchAuthorizer(b)
	doms := []string{ehrDomain, ssn}
	b.ReportAllocs()
	for b.Loop() {
		if !a.Decide(p, "create", "Patient", doms).Allowed {
			b.Fatal("denied")
		}
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	a, p := benchAuthorizer(b)
	doms := []string{ehrDomain, ssn}
	b.ReportAllocs()
	b.SetParallelism(32) // 64 goroutines on 2 cores, as under 64 connections
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !a.Decide(p, "create", "Patient", doms).Allowed {
				b.Error("denied")
				return
			}
		}
	})
}

// BenchmarkDecideCold is a decision whose answers are not in the memo:
// with a rule naming a domain, each new identifier system is evaluated by
// Casbin for each subject the rules name (here the client and its role).
func BenchmarkDecideCold(b *testing.B) {
	a, p := benchAuthorizer(b)
	r, _ := policy.ParseRule("p, client:ehr-main, Location, urn:oid:7.*, read")
	if err := a.AddRule(context.Background(), r); err != nil {
		b.Fatal(err)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		a.Decide(p, "create", "Patient", []string{ehrDomain + "." + strconv.Itoa(i)})
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	a := mustOpen(b, openSQLite(b), policy.Config{})
	tok := mustAddClient(b, a, "ehr-main", "source", ehrDomain)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReload is loading and warming the policy, as after every change.
func BenchmarkReload(b *testing.B) {
	a, _ := benchAuthorizer(b)
	ctx := context.Background()
	for b.Loop() {
		if err := a.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
