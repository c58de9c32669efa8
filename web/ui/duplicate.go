package ui

import (
	"context"

	"idem/linkage"
	"idem/registry"
)

// duplicateEvidence gives a Person-vs-Person proposal its evidence panel:
// the matcher's explanation of the best-matching pair of the two golden
// records' records. Nothing is shown when there is no such pair.
func (s *Server) duplicateEvidence(ctx context.Context, ls registry.LinkStore, p *comparePage) error {
	if s.matcher == nil {
		return nil
	}
	k := p.Link
	left, err := s.memberResources(ctx, ls, k.SourceType, k.SourceID)
	if err != nil {
		return err
	}
	right, err := s.memberResources(ctx, ls, k.GoldenType, k.GoldenID)
	if err != nil {
		return err
	}
	pair, err := s.matcher.BestPair(ctx, left, right)
	if registry.ErrorCode(err) == registry.ENotFound {
		return nil
	} else if err != nil {
		return err
	}
	p.Match, p.Pair = pair.Match, pair
	return nil
}

// memberResources reads the records linked (MATCH) to a golden record, at
// most linkage.MaxPairSide of them.
func (s *Server) memberResources(ctx context.Context, ls registry.LinkStore, typ, id string) ([]*registry.Resource, error) {
	page, err := ls.QueryLinks(ctx, registry.LinkFilter{GoldenType: typ, GoldenID: id, MatchResult: []string{registry.MatchResultMatch}, Count: linkage.MaxPairSide})
	if err != nil {
		return nil, err
	}
	var out []*registry.Resource
	for _, m := range page.Links {
		r, err := s.registry.Store.Read(ctx, m.SourceType, m.SourceID)
		if registry.ErrorCode(err) == registry.ENotFound || registry.ErrorCode(err) == registry.EGone {
			continue
		} else if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
