package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// A strict import is all or nothing. ImportBatch commits each batch on its
// own, and a record refused in a later batch (the policy: an identifier in
// another client's domain; several records matching its identifier; a
// conflict that outlives the retries) would leave the earlier batches
// written. Undoing them afterwards is not sound: their records are linked
// to golden records other writes may have linked to, merged or reviewed
// since. So ImportAll writes every batch in one transaction: nothing of
// the import is visible, linked or audited before all of it is, and the
// first refused record rolls everything back.

// ImportBatches yields the records of an import in line order, batch by
// batch: those after line number after (0: from the first), an empty
// batch at the end.
type ImportBatches func(ctx context.Context, after int) ([]*ImportRecord, error)

// ImportAll writes every record of next, batch by batch as ImportBatch
// does (commit records each batch's results and moves the cursor to its
// last line), all in one transaction, as the actor of ctx. A record that
// failed validation or whose write is refused rolls the whole import back:
// the error names its line (registry.Error, the refusal's code). A
// retried transaction starts again after line from. done, when set, hears
// of each batch written (not yet committed).
func (s *Service) ImportAll(ctx context.Context, from int, next ImportBatches, commit ImportCommit, done func(upTo int)) error {
	actor := ActorFrom(ctx)
	return s.Store.Write(ctx, func(tx Tx) error {
		for after := from; ; {
			recs, err := next(ctx, after)
			if err != nil || len(recs) == 0 {
				return err
			}
			for _, r := range recs {
				if r.Err != nil {
					return refusedLine(r.Line, r.Err)
				}
				r.system = actor.System
				r.prepare(actor)
			}
			s.importKeys(recs)
			results, err := s.importTx(ctx, tx, recs)
			var le *lineError
			if errors.As(err, &le) {
				return refusedLine(le.line, le.err)
			} else if err != nil {
				return err
			}
			for i, res := range results {
				if res.Outcome == ImportRejected {
					return refusedLine(res.Line, recs[i].refusal)
				}
			}
			after = recs[len(recs)-1].Line
			if err := commit(ctx, tx, after, results); err != nil {
				return err
			}
			if done != nil {
				done(after)
			}
		}
	})
}

// lineError is a record's refused write, with its line number: how the
// one-transaction import names the line (ImportBatch finds it by writing
// the batch again record by record).
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// lineRefused names r's line in err, a refusal of its write (internal errors
// stay as they are: the store retries or reports them).
func lineRefused(r *ImportRecord, err error) error {
	if ErrorCode(err) == EInternal {
		return err
	}
	return &lineError{line: r.Line, err: err}
}

// refusedLine is err (a refusal of line's record) as the registry's error,
// its message and each issue prefixed with the line once.
func refusedLine(line int, err error) error {
	if le, ok := err.(*lineError); ok {
		err = le.err
	}
	prefix := fmt.Sprintf("line %d: ", line)
	named := func(s string) string {
		if strings.HasPrefix(s, prefix) {
			return s
		}
		return prefix + s
	}
	out := &Error{Code: ErrorCode(err), Message: named(ErrorMessage(err)), Err: err}
	for _, is := range ErrorIssues(err) {
		is.Diagnostics = named(is.Diagnostics)
		out.Issues = append(out.Issues, is)
	}
	return out
}
