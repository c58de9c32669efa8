package matching

import (
	"slices"
	"testing"
)

func TestDiminutives(t *testing.T) {
	tests := []struct {
		given     string
		want, not []string
		wantNil   bool
	}{
		{given: "william", want: []string{"bill", "billy", "liam", "will", "willie", "willy"}},
		{given: "bill", want: []string{"william", "billy", "will"}},
		{given: "Bill", want: []string{"william"}}, // folded on the way in
		{given: "peggy", want: []string{"margaret", "maggie", "meg"}},
		{given: "chris", want: []string{"christopher", "christine", "christina", "christian", "kit"}},
		{given: "alex", want: []string{"alexander", "alexandra", "alexis"}, not: []string{"alex"}},
		{given: "zbigniew", wantNil: true},
		{given: "", wantNil: true},
	}
	for _, tt := range tests {
		got := Diminutives(tt.given)
		if tt.wantNil {
			if got != nil {
				t.Errorf("Diminutives(%q) = %v, want nil", tt.given, got)
			}
			continue
		}
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("Diminutives(%q) = %v, missing %q", tt.given, got, w)
			}
		}
		for _, n := range tt.not {
			if slices.Contains(got, n) {
				t.Errorf("Diminutives(%q) = %v, must not hold %q", tt.given, got, n)
			}
		}
		if !slices.IsSorted(got) {
			t.Errorf("Diminutives(%q) = %v, not sorted", tt.given, got)
		}
	}
}

// TestNicknameTable checks the data file: enough formal names, every entry
// normalised, and every formal name carrying at least one diminutive.
func TestNicknameTable(t *testing.T) {
	tab := parseNicknames(nicknameData)
	if len(tab.members) < 300 {
		t.Errorf("nickname table has %d formal names, want at least 300", len(tab.members))
	}
	for _, g := range tab.members {
		if len(g) < 2 {
			t.Errorf("line for %q has no diminutive", g[0])
		}
		for _, n := range g {
			if Normalize(n) != n {
				t.Errorf("name %q is not normalised", n)
			}
		}
	}
	if !shareGroup(nicknameGroups("bob"), nicknameGroups("robert")) {
		t.Error("bob and robert share no group")
	}
	if shareGroup(nicknameGroups("bob"), nicknameGroups("william")) {
		t.Error("bob and william share a group")
	}
}
