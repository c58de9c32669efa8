package registry

import "time"

// The delivery and pull state of idem's exchange with linked servers, as
// admins see it (registry/exchange keeps it; the admin UI shows it).
// Credentials are never part of it.

// SubscriptionState is one subscription's delivery state.
type SubscriptionState struct {
	ID, Owner, Topic, Endpoint, Status, Content string
	Heartbeat                                   int64 // seconds; 0: none
	Events                                      int64 // numbered so far (events-since-subscription-start)
	Delivered                                   int64 // the last event number acknowledged by the endpoint
	Pruned                                      int64 // events up to this number were removed (retention)
	Errors                                      int64 // consecutive failed attempts
	LastError                                   string
	LastErrorAt, LastSent, NextAttempt, Created time.Time // zero: never
}

// Pending is the number of events numbered and not yet delivered.
func (s SubscriptionState) Pending() int64 { return s.Events - s.Delivered }

// SubscriptionEvent is one numbered event of a subscription.
type SubscriptionEvent struct {
	Seq      int64
	Kind     string // create, update, delete, or a golden-record change
	Focus    string // "Patient/123"
	Version  int64
	At       time.Time // the change
	Sent     time.Time // last acknowledged delivery; zero: not yet
	Attempts int64
}

// PeerState is one Endpoint's pull settings and health.
type PeerState struct {
	ID, Name, Address, Status string // Status as stored (an active peer failing is shown as error)
	Client, System            string // the idem client its records are written as, and its source system
	Auth                      string // how pulls authenticate, without the secret: "bearer token (secret set)", "SMART client C at URL — private key set", "none"
	Types                     []string
	Every                     time.Duration
	LastSuccess, LastErrorAt  time.Time
	NextPull                  time.Time
	LastError                 string
	Failures                  int64 // consecutive
	Pulled                    int64 // records written from it, in all
	Pulling                   bool  // a pull holds its lease now
}

// PullRun is one pull from a peer: its counts so far, or in all once finished.
type PullRun struct {
	ID                                                 int64
	Trigger                                            string
	Started, Finished                                  time.Time // Finished zero: running (or cut off by a crash)
	Fetched, Created, Updated, Deleted, Skipped, Pages int64
	Error                                              string
}
