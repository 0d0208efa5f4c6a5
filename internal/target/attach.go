package target

// attachment is one value kept with a target for another package
// (Target.Attach).
type attachment struct {
	key, value any
}

// Attach keeps v with t under key, replacing what was attached under any
// key before: a target holds one attachment. It lets the owner of
// per-target state (the proxy's connection pool of the group's current
// transport) find it from the target in one load, where a map keyed by
// the target costs a lookup, and cache misses with 1,000 targets, per
// request. Safe for concurrent use.
func (t *Target) Attach(key, v any) { t.attached.Store(&attachment{key, v}) }

// Attached returns the value attached under key, or nil when the last
// Attach used another key or none was made. Safe for concurrent use.
func (t *Target) Attached(key any) any {
	if a := t.attached.Load(); a != nil && a.key == key {
		return a.value
	}
	return nil
}

// Detach removes the attachment made under key, if it is still t's.
// Safe for concurrent use.
func (t *Target) Detach(key any) {
	if a := t.attached.Load(); a != nil && a.key == key {
		t.attached.CompareAndSwap(a, nil)
	}
}
