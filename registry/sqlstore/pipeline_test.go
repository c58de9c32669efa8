package sqlstore_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"idem/registry"
)

// steps records the pipeline's calls; refuse makes authorize fail.
type steps struct {
	calls  []string
	refuse bool
}

func (s *steps) AuthorizeWrite(_ context.Context, _ registry.Tx, w *registry.Write) error {
	s.calls = append(s.calls, "authorize "+w.Action)
	if s.refuse {
		return registry.Errorf(registry.EForbidden, "refused")
	}
	return nil
}

func (s *steps) Resolve(_ context.Context, _ registry.Tx, w *registry.Write) error {
	s.calls = append(s.calls, "resolve "+w.Action)
	return nil
}

func (s *steps) Prepare(ctx context.Context, _ registry.Tx, batch []*registry.Write) (context.Context, error) {
	s.calls = append(s.calls, "prepare "+strconv.Itoa(len(batch)))
	return ctx, nil
}

func (s *steps) Settle(context.Context, registry.Tx) error {
	s.calls = append(s.calls, "settle")
	return nil
}

func (s *steps) Link(ctx context.Context, tx registry.Tx, w *registry.Write, out *registry.Outcome) error {
	s.calls = append(s.calls, "link "+w.Action)
	// A step writes idem's own records through the system path, which
	// runs no step at all.
	_, err := (&registry.Writer{}).Create(ctx, tx, registry.TypePerson, "p-"+w.ID+"-"+strconv.FormatInt(out.Resource.VersionID, 10), map[string]any{"resourceType": "Person"})
	return err
}

func (s *steps) AuditWrite(_ context.Context, _ registry.Tx, w *registry.Write, out *registry.Outcome) error {
	s.calls = append(s.calls, "audit "+w.Action)
	return nil
}

func (s *steps) AuditBatch(_ context.Context, _ registry.Tx, writes []registry.Audited) error {
	var actions []string
	for _, w := range writes {
		actions = append(actions, w.Write.Action)
	}
	s.calls = append(s.calls, "audit batch "+strings.Join(actions, ","))
	return nil
}

// TestPipelineRunsEveryStepInOrder checks the write pipeline's order for
// create, update and delete, that the system path runs no step, and that a
// refused write stores nothing.
func TestPipelineRunsEveryStepInOrder(t *testing.T) {
	eachService(t, func(t *testing.T, svc *registry.Service) {
		ctx := context.Background()
		st := &steps{}
		svc.Steps = registry.Steps{Authorize: st, Link: st, Audit: st}
		out, err := svc.Create(ctx, registry.TypePatient, mustDecode(t, patientJSON("Smith", "Ann", "1980-01-02", "a1")), "")
		if err != nil {
			t.Fatal(err)
		}
		m := mustDecode(t, string(out.Resource.Body))
		if _, err := svc.Update(ctx, registry.TypePatient, out.Resource.ID, m, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Delete(ctx, registry.TypePatient, out.Resource.ID); err != nil {
			t.Fatal(err)
		}
		want := []string{"authorize create", "resolve create", "link create", "audit create",
			"authorize update", "resolve update", "link update", "audit update",
			"authorize delete", "link delete", "audit delete"}
		if !slices.Equal(st.calls, want) {
			t.Fatalf("steps:\n %s\nwant\n %s", strings.Join(st.calls, ", "), strings.Join(want, ", "))
		}
		st.calls, st.refuse = nil, true
		_, err = svc.Create(ctx, registry.TypePatient, mustDecode(t, patientJSON("Refused", "Ann", "1980-01-02", "a2")), "")
		if registry.ErrorCode(err) != registry.EForbidden || !slices.Equal(st.calls, []string{"authorize create"}) {
			t.Fatalf("refused create: %v, steps %v", err, st.calls)
		}
		if n := search(t, svc, registry.TypePatient, "family=refused").Total; n != 0 {
			t.Fatalf("a refused write stored %d Patients", n)
		}
		if n := search(t, svc, registry.TypePerson, "").Total; n != 3 {
			t.Fatalf("%d Persons written by the link step through the system path, want 3", n)
		}
		// A transaction Bundle begins a batch, runs every step per entry
		// but the audit step, settles the batch, then runs the audit step
		// once over all of them.
		st.calls, st.refuse = nil, false
		if _, err := bundle(t, svc, `{"resourceType":"Bundle","type":"transaction","entry":[
			{"resource":{"resourceType":"Patient","name":[{"family":"One"}]},"request":{"method":"POST","url":"Patient"}},
			{"resource":{"resourceType":"Patient","name":[{"family":"Two"}]},"request":{"method":"POST","url":"Patient"}}]}`); err != nil {
			t.Fatal(err)
		}
		want = []string{"prepare 0", "authorize create", "resolve create", "link create",
			"authorize create", "resolve create", "link create", "settle", "audit batch create,create"}
		if !slices.Equal(st.calls, want) {
			t.Fatalf("transaction steps:\n %s\nwant\n %s", strings.Join(st.calls, ", "), strings.Join(want, ", "))
		}
	})
}
