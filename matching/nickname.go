package matching

import (
	"bufio"
	_ "embed"
	"slices"
	"strings"
	"sync"
)

// nicknameData is the table of given names and their diminutives, one line
// per formal name, written for idem (see the header of the file).
//
//go:embed nicknames.txt
var nicknameData string

// nicknameTable holds each name's nickname groups (one group per line of the
// data file) and each group's members.
type nicknameTable struct {
	groups  map[string][]uint16
	members [][]string
}

// nicknames parses the embedded table once, on first use.
var nicknames = sync.OnceValue(func() *nicknameTable {
	return parseNicknames(nicknameData)
})

// parseNicknames reads lines "formal: dim dim ..."; blank lines and lines
// starting with '#' are ignored, names are normalised as everywhere else.
func parseNicknames(data string) *nicknameTable {
	t := &nicknameTable{groups: map[string][]uint16{}}
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		formal, dims, _ := strings.Cut(line, ":")
		var group []string
		for _, n := range append([]string{formal}, strings.Fields(dims)...) {
			if n = Normalize(n); n != "" && !slices.Contains(group, n) {
				group = append(group, n)
			}
		}
		id := uint16(len(t.members))
		t.members = append(t.members, group)
		for _, n := range group {
			t.groups[n] = append(t.groups[n], id)
		}
	}
	return t
}

// Diminutives returns the nickname equivalents of a folded given name, in
// both directions: for a formal name its diminutives ("william": "bill",
// "billy", ...), for a diminutive the formal names it shortens and their
// other diminutives ("bill": "william", "billy", ...). The result is sorted,
// excludes given itself, and is nil for a name the table does not know.
func Diminutives(given string) []string {
	t := nicknames()
	given = Normalize(given)
	var out []string
	for _, g := range t.groups[given] {
		for _, n := range t.members[g] {
			if n != given {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nicknameGroups returns the groups of a normalised given name; the slice is
// shared and must not be changed.
func nicknameGroups(norm string) []uint16 {
	return nicknames().groups[norm]
}

// shareGroup reports whether two sorted group lists intersect.
func shareGroup(a, b []uint16) bool {
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] == b[j]:
			return true
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return false
}
