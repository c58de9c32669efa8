package sqlstore

// secretsTables (migration 13) hold what sealing secrets and the
// clock-free subscription cutoff need:
//   - subscriptions.headers: a subscription's channel headers, sealed
//     (registry/secret), taken out of the stored body, which keeps only
//     their names ("Authorization: ***"). endpoint_state.secret and
//     smart_key already sit apart from the body; they hold sealed values
//     now (the exchange service seals old plain rows on start).
//   - subscriptions.epoch and outbox.epoch: which events were already
//     waiting when a subscription was made. Making one takes the
//     dispatch lock, numbers itself above every epoch in use, and stamps
//     the outbox rows then visible that carry no epoch yet; a subscription
//     receives an event whose epoch is 0 or above its own. Instances'
//     clocks are never compared.
var secretsTables = []string{
	`ALTER TABLE subscriptions ADD COLUMN headers TEXT NOT NULL DEFAULT ''`,
	`ALTER TABLE subscriptions ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0`,
	`ALTER TABLE outbox ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0`,
}

var secretsMigration = migration{sqlite: secretsTables, postgres: secretsTables}
