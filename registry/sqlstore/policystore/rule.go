package policystore

import (
	"context"

	"gorm.io/gorm"

	"idem/policy"
)

// ruleColumns is how many values a stored rule has room for (v0..v5).
const ruleColumns = 6

type ruleRow struct{ Ptype, V0, V1, V2, V3, V4, V5 string }

// rule is the row's rule, without the empty trailing columns.
func (r ruleRow) rule() policy.Rule {
	v := []string{r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}
	for len(v) > 0 && v[len(v)-1] == "" {
		v = v[:len(v)-1]
	}
	return policy.Rule{Type: r.Ptype, Values: v}
}

// rules reads the stored rules in a stable order.
func (s *Store) rules(ctx context.Context) ([]policy.Rule, error) {
	var rows []ruleRow
	err := s.read(ctx).Raw(`SELECT ptype, v0, v1, v2, v3, v4, v5 FROM policy_rules ORDER BY ptype, v0, v1, v2, v3, v4, v5`).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]policy.Rule, len(rows))
	for i, r := range rows {
		out[i] = r.rule()
	}
	return out, nil
}

func ruleArgs(r policy.Rule) []any {
	args := make([]any, 1+ruleColumns)
	args[0] = r.Type
	for i := range ruleColumns {
		args[1+i] = ""
		if i < len(r.Values) {
			args[1+i] = r.Values[i]
		}
	}
	return args
}

const ruleWhere = ` WHERE ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ? AND v5 = ?`

// AddRule stores a rule.
func (s *Store) AddRule(ctx context.Context, r policy.Rule) error {
	if len(r.Values) > ruleColumns {
		return policy.Errorf(policy.ErrInvalid, "rule %q has more than %d values", r.String(), ruleColumns)
	}
	err := s.change(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw(`SELECT COUNT(*) FROM policy_rules`+ruleWhere, ruleArgs(r)...).Scan(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return policy.Errorf(policy.ErrExists, "rule %q already exists", r.String())
		}
		return tx.Exec(`INSERT INTO policy_rules (ptype, v0, v1, v2, v3, v4, v5) VALUES (?, ?, ?, ?, ?, ?, ?)`, ruleArgs(r)...).Error
	})
	if uniqueViolation(err) {
		return policy.Errorf(policy.ErrExists, "rule %q already exists", r.String())
	}
	return err
}

// RemoveRule deletes a stored rule.
func (s *Store) RemoveRule(ctx context.Context, r policy.Rule) error {
	return s.change(ctx, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM policy_rules`+ruleWhere, ruleArgs(r)...)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return policy.Errorf(policy.ErrNotFound, "no rule %q in the database", r.String())
		}
		return nil
	})
}
