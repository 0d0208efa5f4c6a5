package desync

import "fmt"

// Mode is a listener's desync mitigation mode, as ALB's
// routing.http.desync_mitigation_mode attribute: monitor, defensive
// (the default) or strictest.
// Source: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#desync-mitigation-mode
type Mode uint8

const (
	// Defensive forwards all but Severe; Ambiguous requests are forwarded
	// and then both connections are closed.
	Defensive Mode = iota
	// Monitor forwards every request; it only classifies.
	Monitor
	// Strictest forwards only Compliant requests.
	Strictest
)

// String returns the configuration spelling: "monitor", "defensive" or "strictest".
func (m Mode) String() string {
	switch m {
	case Monitor:
		return "monitor"
	case Strictest:
		return "strictest"
	default:
		return "defensive"
	}
}

// ParseMode reads a configuration value. The empty string is Defensive.
// Any other unknown value is an error naming it.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "", "defensive":
		return Defensive, nil
	case "monitor":
		return Monitor, nil
	case "strictest":
		return Strictest, nil
	}
	return Defensive, fmt.Errorf("desync_mitigation_mode %q: want monitor, defensive or strictest", s)
}

// Action is what the connection loop does with a classified request.
type Action uint8

const (
	// Forward sends the request to the target and keeps the connections.
	Forward Action = iota
	// ForwardThenClose sends the request, then closes the client and the
	// target connection after the response.
	ForwardThenClose
	// Reject400 answers 400 without forwarding.
	Reject400
	// Reject400AndClose answers 400 and closes the client connection.
	Reject400AndClose
)

// String names the action for logs and tests.
func (a Action) String() string {
	switch a {
	case ForwardThenClose:
		return "forward-then-close"
	case Reject400:
		return "reject-400"
	case Reject400AndClose:
		return "reject-400-and-close"
	default:
		return "forward"
	}
}

// Action returns ALB's action for a request of tier t in mode m:
//
//	tier        monitor  defensive           strictest
//	Compliant   forward  forward             forward
//	Acceptable  forward  forward             400
//	Ambiguous   forward  forward then close  400
//	Severe      forward  400 and close       400 and close
//
// Source: the ALB desync mitigation mode table (URL on Mode).
func (m Mode) Action(t Tier) Action {
	switch m {
	case Monitor:
		return Forward
	case Strictest:
		switch t {
		case Compliant:
			return Forward
		case Severe:
			return Reject400AndClose
		default:
			return Reject400
		}
	default:
		switch t {
		case Ambiguous:
			return ForwardThenClose
		case Severe:
			return Reject400AndClose
		default:
			return Forward
		}
	}
}
