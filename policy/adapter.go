package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
)

// adapter is the Casbin persist.Adapter the enforcer loads its rules from:
// the embedded default policy, then the stored rules of the snapshot being
// loaded. The rules live in the Store, not behind Casbin: a change is
// validated first (Rule.check, built-ins refused) and committed in one
// transaction with the policy version, which Casbin's context-free,
// transaction-free Adapter cannot do; and loading from memory lets
// LoadPolicy build the new model and swap it in whole, under the
// enforcer's lock, beside concurrent decisions. The caller of LoadPolicy
// holds reloadMu, the only writer of stored.
type adapter struct{ stored []Rule }

var _ persist.Adapter = (*adapter)(nil)

// errReadOnly answers Casbin's write methods: rules change through
// Authorizer.AddRule and RemoveRule (auto-save is off, so the enforcer
// never calls them).
var errReadOnly = errors.New("policy: rules change through Authorizer.AddRule and RemoveRule")

// LoadPolicy loads the built-in rules, then the stored ones.
func (ad *adapter) LoadPolicy(m model.Model) error {
	for _, line := range strings.Split(defaultPolicy, "\n") {
		if err := persist.LoadPolicyLine(strings.TrimSpace(line), m); err != nil {
			return fmt.Errorf("default policy line %q: %w", line, err)
		}
	}
	for _, r := range ad.stored {
		if err := persist.LoadPolicyArray(append([]string{r.Type}, r.Values...), m); err != nil {
			return fmt.Errorf("policy rule %s: %w", r, err)
		}
	}
	return nil
}

// SavePolicy is refused: see errReadOnly.
func (ad *adapter) SavePolicy(model.Model) error { return errReadOnly }

// AddPolicy is refused: see errReadOnly.
func (ad *adapter) AddPolicy(string, string, []string) error { return errReadOnly }

// RemovePolicy is refused: see errReadOnly.
func (ad *adapter) RemovePolicy(string, string, []string) error { return errReadOnly }

// RemoveFilteredPolicy is refused: see errReadOnly.
func (ad *adapter) RemoveFilteredPolicy(string, string, int, ...string) error { return errReadOnly }
