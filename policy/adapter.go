package policy

import (
	"context"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"gorm.io/gorm"
)

// adapter is a Casbin persist.Adapter over the policy_rules table, with the
// embedded default policy loaded first. (casbin/gorm-adapter would bring
// drivers for four databases into the binary for one table.) Casbin calls
// it without a context; its queries are small.
type adapter struct{ db DB }

var _ persist.Adapter = (*adapter)(nil)

const ruleColumns = 6 // v0..v5

type ruleRow struct{ Ptype, V0, V1, V2, V3, V4, V5 string }

func (r ruleRow) values() []string {
	v := []string{r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}
	for len(v) > 0 && v[len(v)-1] == "" {
		v = v[:len(v)-1]
	}
	return v
}

// LoadPolicy loads the built-in rules, then the database's.
func (ad *adapter) LoadPolicy(m model.Model) error {
	for _, line := range strings.Split(defaultPolicy, "\n") {
		if err := persist.LoadPolicyLine(strings.TrimSpace(line), m); err != nil {
			return fmt.Errorf("default policy line %q: %w", line, err)
		}
	}
	var rows []ruleRow
	err := ad.db.Read().WithContext(context.Background()).
		Raw(`SELECT ptype, v0, v1, v2, v3, v4, v5 FROM policy_rules ORDER BY ptype, v0, v1, v2, v3, v4, v5`).Scan(&rows).Error
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := persist.LoadPolicyArray(append([]string{r.Ptype}, r.values()...), m); err != nil {
			return fmt.Errorf("policy rule %s: %w", ruleText(r.Ptype, r.values()), err)
		}
	}
	return nil
}

// SavePolicy replaces the database's rules with the model's non-built-in ones.
func (ad *adapter) SavePolicy(m model.Model) error {
	return ad.write(func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM policy_rules`).Error; err != nil {
			return err
		}
		for _, sec := range []string{"p", "g"} {
			for ptype, ast := range m[sec] {
				for _, v := range ast.Policy {
					r := Rule{Type: ptype, Values: v}
					if builtinRules()[r.String()] {
						continue
					}
					if err := insertRule(tx, r); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// AddPolicy stores one rule.
func (ad *adapter) AddPolicy(_, ptype string, rule []string) error {
	return ad.write(func(tx *gorm.DB) error {
		r := Rule{Type: ptype, Values: rule}
		if n, err := countRule(tx, r); err != nil || n > 0 {
			return err
		}
		return insertRule(tx, r)
	})
}

// RemovePolicy deletes one rule.
func (ad *adapter) RemovePolicy(_, ptype string, rule []string) error {
	return ad.write(func(tx *gorm.DB) error {
		_, err := deleteRule(tx, Rule{Type: ptype, Values: rule})
		return err
	})
}

// RemoveFilteredPolicy deletes the rules whose values from fieldIndex on
// equal fieldValues (an empty value matches anything).
func (ad *adapter) RemoveFilteredPolicy(_, ptype string, fieldIndex int, fieldValues ...string) error {
	q := `DELETE FROM policy_rules WHERE ptype = ?`
	args := []any{ptype}
	for i, v := range fieldValues {
		if v != "" && fieldIndex+i < ruleColumns {
			q += fmt.Sprintf(" AND v%d = ?", fieldIndex+i)
			args = append(args, v)
		}
	}
	return ad.write(func(tx *gorm.DB) error { return tx.Exec(q, args...).Error })
}

// write changes rules and bumps the policy version, so other instances reload.
func (ad *adapter) write(fn func(tx *gorm.DB) error) error {
	return ad.db.Write(context.Background(), func(tx *gorm.DB) error {
		if err := fn(tx); err != nil {
			return err
		}
		return bumpVersion(tx)
	})
}

func ruleArgs(r Rule) []any {
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

func countRule(tx *gorm.DB, r Rule) (int64, error) {
	var n int64
	err := tx.Raw(`SELECT COUNT(*) FROM policy_rules`+ruleWhere, ruleArgs(r)...).Scan(&n).Error
	return n, err
}

func insertRule(tx *gorm.DB, r Rule) error {
	if len(r.Values) > ruleColumns {
		return errorf(ErrInvalid, "rule %q has more than %d values", r.String(), ruleColumns)
	}
	return tx.Exec(`INSERT INTO policy_rules (ptype, v0, v1, v2, v3, v4, v5) VALUES (?, ?, ?, ?, ?, ?, ?)`, ruleArgs(r)...).Error
}

func deleteRule(tx *gorm.DB, r Rule) (int64, error) {
	res := tx.Exec(`DELETE FROM policy_rules`+ruleWhere, ruleArgs(r)...)
	return res.RowsAffected, res.Error
}
