package target

// Attachment is one value kept with a target for another package
// (Target.Attach), under a key of that package's choosing. The owner
// embeds it in the value's own memory, so that finding the value from
// the target reads no object of its own: with 1,000 targets every object
// a request touches per target is a cache miss.
type Attachment struct {
	Key, Value any
}

// Attach keeps a with t, replacing what was attached under any key
// before: a target holds one attachment. It lets the owner of per-target
// state (the proxy's connection pool of the group's current transport)
// find it from the target in one load, where a map keyed by the target
// costs a lookup per request. a must not change once attached. Safe for
// concurrent use.
func (t *Target) Attach(a *Attachment) { t.attached.Store(a) }

// Attached returns the value attached under key, or nil when the last
// Attach used another key or none was made. Safe for concurrent use.
func (t *Target) Attached(key any) any {
	if a := t.attached.Load(); a != nil && a.Key == key {
		return a.Value
	}
	return nil
}

// Detach removes the attachment made under key, if it is still t's.
// Safe for concurrent use.
func (t *Target) Detach(key any) {
	if a := t.attached.Load(); a != nil && a.Key == key {
		t.attached.CompareAndSwap(a, nil)
	}
}
