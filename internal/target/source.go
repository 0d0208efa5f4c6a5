package target

// Source is who registered a target: the registered_by of the admin API,
// `fulcrum status` and the stats.
type Source uint32

// The sources. SourceFile is the zero value: a target is the file's until
// something else registers it.
const (
	// SourceFile: the target group's targets in the configuration file.
	SourceFile Source = iota
	// SourceAPI: registered at runtime through the admin API, the CLI or
	// the runtime socket.
	SourceAPI
	// SourceDNS: discovered from A, AAAA or SRV records.
	SourceDNS
	// SourceEtcd: discovered under an etcd key prefix.
	SourceEtcd
	// SourceKubernetes: discovered from a Service's EndpointSlices.
	SourceKubernetes
)

var sourceNames = [...]string{"file", "api", "dns", "etcd", "kubernetes"}

// String returns file, api, dns, etcd or kubernetes.
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// ParseSource parses the names String returns.
func ParseSource(name string) (Source, bool) {
	for i, n := range sourceNames {
		if n == name {
			return Source(i), true
		}
	}
	return SourceFile, false
}
