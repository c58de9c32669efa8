package policy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"idem/policy"
)

func TestParseModes(t *testing.T) {
	got, err := policy.ParseModes("Patient=shared-registry, Practitioner=linked,Location=independent")
	want := policy.Modes{"Patient": policy.SharedRegistry, "Practitioner": policy.Linked, "Location": policy.Independent}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("ParseModes: %v, %v", got, err)
	}
	if got, _ := policy.ParseModes(""); !cmp.Equal(got, policy.DefaultModes()) {
		t.Errorf("empty: %v", got)
	}
	for _, bad := range []string{"Patient", "Patient=copy", "=linked", "Patient="} {
		if _, err := policy.ParseModes(bad); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("ParseModes(%q): %v", bad, err)
		}
	}
}

func TestParseAuthoritative(t *testing.T) {
	got, err := policy.ParseAuthoritative("Patient=ehr-main,Location=facility-registry,Patient=ehr-west")
	want := map[string][]string{"Patient": {"ehr-main", "ehr-west"}, "Location": {"facility-registry"}}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("ParseAuthoritative: %v, %v", got, err)
	}
	if _, err := policy.ParseAuthoritative("Patient=EHR Main"); !errors.Is(err, policy.ErrInvalid) {
		t.Errorf("bad client name: %v", err)
	}
}

func TestOpenRefusesSourceOfTruthWithoutAuthority(t *testing.T) {
	modes, _ := policy.ParseModes("Patient=source-of-truth")
	_, err := policy.Open(context.Background(), openSQLite(t), policy.Config{Modes: modes, Reload: -1})
	if !errors.Is(err, policy.ErrInvalid) {
		t.Errorf("open: %v", err)
	}
}
