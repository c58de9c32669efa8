package policy

import "strings"

// Intake is what idem does with the records a client pushes of one type
// (unsolicited data): store them, hold them for a steward's review (the
// reconciliation queue), or refuse them.
type Intake string

// The intakes.
const (
	Accept Intake = "accept"
	Review Intake = "review"
	Refuse Intake = "refuse"
)

func (i Intake) valid() bool { return i == Accept || i == Review || i == Refuse }

// Intakes maps "CLIENT:TYPE" to an intake; CLIENT or TYPE may be "*".
// The most specific entry wins: client and type, then client, then type.
type Intakes map[string]Intake

// ParseIntakes reads "ehr-main:Patient=review,*:Location=refuse,gp:*=review";
// a bare "Patient=review" is every client's Patients.
func ParseIntakes(s string) (Intakes, error) {
	m := Intakes{}
	err := parsePairs("unsolicited data", s, func(k, v string) error {
		in := Intake(v)
		if !in.valid() {
			return errorf(ErrInvalid, "unsolicited data %q for %s (use accept, review or refuse)", v, k)
		}
		client, typ, ok := strings.Cut(k, ":")
		if !ok {
			client, typ = "*", k
		}
		if client != "*" {
			if err := checkName("client", client); err != nil {
				return err
			}
		}
		m[client+":"+typ] = in
		return nil
	})
	return m, err
}

// Intake returns what to do with typ records client pushes, and the rule
// that says so (Accept and "" when nothing is configured).
func (a *Authorizer) Intake(client, typ string) (Intake, string) {
	for _, k := range []string{client + ":" + typ, client + ":*", "*:" + typ, "*:*"} {
		if in, ok := a.cfg.Intakes[k]; ok {
			return in, "unsolicited data " + k + "=" + string(in)
		}
	}
	return Accept, ""
}
