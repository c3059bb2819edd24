package server

import "context"

// Prune runs the Service's pruner once, as Run does every pruneInterval.
func Prune(ctx context.Context, s *Service) { s.prune.run(ctx) }

// PruneMargin is how long an ended session outlives its last access token.
const PruneMargin = pruneMargin
