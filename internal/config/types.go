// Package config defines Fulcrum's YAML configuration, its ALB-derived
// defaults, and its validation.
//
// Loading is a pure function of the input bytes: strict decoding (unknown
// keys are errors), defaults, then validation that reports every problem with
// its path and YAML line before anything starts. The field names are the
// contract documented in docs/configuration.md.
package config

// Config is the whole configuration file.
type Config struct {
	// AccessLog configures the per-request access log. Nil means off.
	AccessLog *AccessLog `yaml:"access_log"`
	// Admin configures the admin server.
	Admin Admin `yaml:"admin"`
	// HealthCheckLog configures the per-check log. Nil means off.
	HealthCheckLog *HealthCheckLog `yaml:"health_check_log"`
	// Listeners are the front-end sockets. At least one is required.
	Listeners []Listener `yaml:"listeners"`
	// TargetGroups are the pools of targets that rules forward to.
	TargetGroups []TargetGroup `yaml:"target_groups"`
	// ShutdownGrace is how long graceful shutdown waits for in-flight
	// requests after SIGTERM or SIGINT. Default 30s, range 0s..3600s.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// Cluster makes this instance share what it knows with others
	// through etcd (discovery.go). Nil: the instance stands alone.
	Cluster *Cluster `yaml:"cluster"`
	// StickinessKeyFile holds the secret (at least 32 bytes) that
	// encrypts stickiness cookies, so that instances sharing it agree on
	// them. Default: a random key per process (rules.go).
	StickinessKeyFile string `yaml:"stickiness_key_file"`
}

// AccessLog configures the access log.
type AccessLog struct {
	// Path is the file to append to; "-" means standard output. Required.
	Path string `yaml:"path"`
	// Format is "alb" (ALB's field order and quoting) or "json". Default alb.
	Format string `yaml:"format"`
	// BufferLines is how many lines may wait for the writer before new
	// lines are dropped and counted. Default 8192, range 1..1048576.
	BufferLines int `yaml:"buffer_lines"`
}

// Admin configures the admin server: metrics, the JSON API, HAProxy-style
// stats and the runtime socket (docs/observability.md).
type Admin struct {
	// Address is host:port. Default 127.0.0.1:9901; port 0 picks a free
	// port (tests).
	Address string `yaml:"address"`
	// TokenFile holds the bearer token every admin request must carry
	// ("Authorization: Bearer TOKEN"). Required when Address is not a
	// loopback address.
	TokenFile string `yaml:"token_file"`
	// Socket, when set, is the path of a Unix socket that speaks HAProxy's
	// runtime API text commands.
	Socket string `yaml:"socket"`
	// RequestHistory is how many recent successful requests
	// /api/v1/requests keeps. Default 1000, range 1..1000000.
	RequestHistory int `yaml:"request_history"`
	// RequestHistoryFailures is how many recent failed requests it keeps,
	// apart from the successes, so that failures outlive them. Default
	// 10000, range 1..1000000.
	RequestHistoryFailures int `yaml:"request_history_failures"`
	// RequestHistoryBytes bounds the bytes the request history's records
	// take encoded (strings and attempts), half for successes and half
	// for failures; the oldest are dropped beyond it. It is reserved
	// address space, not memory: a ring's records span about its count
	// (request_history, request_history_failures), whatever the bound. Default 64 MiB
	// (67108864), range 1 MiB..16 GiB.
	RequestHistoryBytes int64 `yaml:"request_history_bytes"`
	// AllowedHosts are extra Host header names the admin HTTP server
	// answers to, besides its own address, localhost and loopback IPs;
	// any other Host is refused 421 (DNS rebinding). Default none.
	AllowedHosts []string `yaml:"allowed_hosts"`
	// Pprof serves Go's profiles under /debug/pprof/. Default false.
	Pprof bool `yaml:"pprof"`
	// SocketMode is the runtime socket's file mode, octal (HAProxy's
	// "stats socket ... mode"). Default "0660".
	SocketMode string `yaml:"socket_mode"`
}

// HealthCheckLog configures the health-check log: one line per check, in
// ALB's health check log layout.
type HealthCheckLog struct {
	// Path is the file to append to; "-" means standard output. Required.
	Path string `yaml:"path"`
}

// Listener is one front-end socket with its rules.
type Listener struct {
	// Name identifies the listener; it is the "elb" field of the access log.
	Name string `yaml:"name"`
	// Address is host:port to bind, for example 0.0.0.0:8080. Port 0 picks a
	// free port (tests).
	Address string `yaml:"address"`
	// Protocol is "http" or "https". Default http.
	Protocol string `yaml:"protocol"`
	// TLS holds the certificate for https listeners.
	TLS *ListenerTLS `yaml:"tls"`
	// Certificates, TLSPolicy, MutualAuthentication: see rules.go.
	Certificates         []Certificate         `yaml:"certificates"`
	TLSPolicy            *TLSPolicy            `yaml:"tls_policy"`
	MutualAuthentication *MutualAuthentication `yaml:"mutual_authentication"`
	// IdleTimeout is the client idle limit and the longest wait for a
	// target's response bytes (ALB idle_timeout). Default 60s, range 1s..4000s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ReusePort binds with SO_REUSEPORT, so a new fulcrum process can bind
	// the same address before the old one drains (zero-downtime binary
	// restart, docs/operations.md). Linux and the BSDs only. Default false.
	ReusePort bool `yaml:"reuse_port"`
	// MaxConnections caps the client connections open at once; beyond it
	// new connections are closed as soon as they are accepted and counted
	// in fulcrum_rejected_connections_total (ALB RejectedConnectionCount).
	// Default 0: unlimited.
	MaxConnections int `yaml:"max_connections"`
	// ExposeErrorDetails shows clients the full failure detail (target
	// addresses, host names, Go error text) in Proxy-Status details.
	// Default false: clients get the error type and request id only;
	// the detail goes to the log, the request story and the admin API.
	ExposeErrorDetails bool `yaml:"expose_error_details"`
	// DesyncMitigationMode is how the listener acts on each request's
	// HTTP desync classification (docs/desync.md): "monitor",
	// "defensive" or "strictest". Default defensive, as ALB's
	// routing.http.desync_mitigation_mode
	// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#desync-mitigation-mode).
	DesyncMitigationMode string `yaml:"desync_mitigation_mode"`
	// RequestHeaderTimeout bounds the wait for a complete request header,
	// from the request's first byte; beyond it Fulcrum answers 408 and
	// closes. Default 10s, range 1s..4000s (HAProxy timeout http-request,
	// nginx client_header_timeout).
	RequestHeaderTimeout Duration `yaml:"request_header_timeout"`
	// MaxHeaderBytes bounds the request line and header fields, in bytes;
	// beyond it Fulcrum answers 431. Default 65536 (ALB's 64 KB), range
	// 1024..1048576.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxHeaders caps the number of request header fields; beyond it
	// Fulcrum answers 431. Default and maximum 128.
	MaxHeaders int `yaml:"max_headers"`
	// MaxURIBytes bounds the request target, in bytes; beyond it Fulcrum
	// answers 414. Default 16384 (ALB's 16 KB request line), range
	// 256..1048576.
	MaxURIBytes int `yaml:"max_uri_bytes"`
	// MaxRequestBodyBytes bounds a request body, in bytes; beyond it
	// Fulcrum answers 413. Default 0: unlimited, as ALB.
	MaxRequestBodyBytes int64 `yaml:"max_request_body_bytes"`
	// H2C accepts HTTP/2 over cleartext with prior knowledge (RFC 9113
	// §3.3) on an http listener, as Envoy and Caddy can; ALB cannot.
	// Default false: the client preface is answered 505 and the
	// connection closed. An HTTP/1.1 "Upgrade: h2c" (RFC 7540 §3.2) is
	// never honoured: the header is removed and the request served as
	// HTTP/1.1.
	H2C bool `yaml:"h2c"`
	// DefaultTargetGroup receives requests that match no rule. Required.
	DefaultTargetGroup string `yaml:"default_target_group"`
	// DefaultAction is the action for requests that match no rule; one
	// of it and DefaultTargetGroup is required (rules.go).
	DefaultAction *Action `yaml:"default_action"`
	// Rules are matched lowest priority number first; the first match wins.
	Rules []Rule `yaml:"rules"`
}

// ListenerTLS is a listener's certificate and key, PEM files.
type ListenerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Rule routes requests by host and path to a target group.
type Rule struct {
	// Priority orders rules, 1..50000, unique within a listener.
	Priority int `yaml:"priority"`
	// Host is an exact host name or "*.suffix". Empty matches any host.
	Host string `yaml:"host"`
	// Path is an exact path or a prefix ending in "*". Empty matches any path.
	Path string `yaml:"path"`
	// TargetGroup is the name of the target group to forward to. Required.
	TargetGroup string `yaml:"target_group"`
	// Conditions must all match (rules.go); Action replaces TargetGroup.
	Conditions []Condition `yaml:"conditions"`
	Action     *Action     `yaml:"action"`
}

// TargetGroup is a pool of targets with its balancing, retry and health
// check settings, as the operator wrote it: a value, never changed while
// the server runs. Its runtime forms are target.Group (the registered
// targets and their health), proxy.Group (one reload generation of the
// request path's view) and proxy.groupState (what survives reloads).
type TargetGroup struct {
	// Name identifies the group; it is the target_group_arn log field.
	Name string `yaml:"name"`
	// Protocol to the targets: "http" or "https". Default http.
	Protocol string `yaml:"protocol"`
	// TLS configures https to the targets.
	TLS TargetTLS `yaml:"tls"`
	// ProtocolVersion is HTTP1, HTTP2 or GRPC (protocol.go). Default
	// (empty) HTTP1.
	ProtocolVersion string `yaml:"protocol_version"`
	// Algorithm is round_robin, least_outstanding_requests or
	// weighted_random. Default round_robin.
	Algorithm string `yaml:"algorithm"`
	// ConnectTimeout bounds TCP connect and the TLS handshake to a target.
	// Default 10s (ALB), range 1ms..600s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// DeregistrationDelay is how long a draining target keeps its in-flight
	// requests. Default 300s, range 0s..3600s.
	DeregistrationDelay Duration `yaml:"deregistration_delay"`
	// KeepaliveIdleTimeout is how long an idle pooled connection to a target
	// is kept. Default 60s (the ALB idle timeout), range 1s..4000s. When it
	// is not set, Fulcrum also keeps it below 3/4 of each target's learned
	// keep-alive idle-close time; setting it turns that learning off.
	KeepaliveIdleTimeout Duration `yaml:"keepalive_idle_timeout"`
	// KeepaliveIdleTimeoutSet is true when the file sets
	// keepalive_idle_timeout.
	KeepaliveIdleTimeoutSet bool `yaml:"-"`
	// MaxIdlePerTarget caps idle pooled connections per target. Default 256.
	MaxIdlePerTarget int `yaml:"max_idle_per_target"`
	// Retries bounds retries.
	Retries Retries `yaml:"retries"`
	// SlowStart ramps a newly healthy target's share of requests up
	// linearly over this duration (ALB slow_start). 0 (default) is off,
	// otherwise 30s..900s; round_robin only.
	SlowStart Duration `yaml:"slow_start"`
	// QueueSize is how many requests may wait when every routable target is
	// at its max_connections (HAProxy's queue, CLB's surge queue). Beyond
	// it requests are answered 503 connection_limit_reached. Default 1024,
	// range 0..1048576.
	QueueSize int `yaml:"queue_size"`
	// QueueTimeout is the longest a request waits in the queue before it is
	// answered 503 connection_limit_reached. Default 10s, range 1ms..600s.
	QueueTimeout Duration `yaml:"queue_timeout"`
	// OutlierDetection ejects targets whose real traffic fails (passive
	// health).
	OutlierDetection OutlierDetection `yaml:"outlier_detection"`
	// HealthCheck configures active health checks.
	HealthCheck HealthCheck `yaml:"health_check"`
	// Targets are the registered targets.
	Targets []Target `yaml:"targets"`
	// Discovery lists the providers that find more targets: dns, etcd,
	// kubernetes (discovery.go). They mix with Targets.
	Discovery []Discovery `yaml:"discovery"`
	// Stickiness keeps a client on one target (rules.go).
	Stickiness *Stickiness `yaml:"stickiness"`
}

// OutlierDetection configures passive health: targets whose traffic fails
// repeatedly are ejected for a while (Envoy's outlier detection, HAProxy's
// observe/on-error).
type OutlierDetection struct {
	// ConsecutiveConnectionErrors ejects a target after this many
	// connection-level failures in a row on fresh connections (refused,
	// timed out, reset before any response byte). Keep-alive races never
	// count. Default 5; 0 turns it off.
	ConsecutiveConnectionErrors int `yaml:"consecutive_connection_errors"`
	// Consecutive5xx ejects a target after this many 5xx responses in a
	// row. Default 0: off.
	Consecutive5xx int `yaml:"consecutive_5xx"`
	// BaseEjectionTime is the first ejection's length; each further
	// ejection of the same target lasts one more base. Default 30s, range
	// 1s..3600s.
	BaseEjectionTime Duration `yaml:"base_ejection_time"`
	// MaxEjectionTime caps an ejection's length. Default 300s, range
	// 1s..3600s.
	MaxEjectionTime Duration `yaml:"max_ejection_time"`
	// MaxEjectionPercent is the largest share of the group's registered
	// targets that may be ejected at once. Default 50, range 0..100.
	MaxEjectionPercent int `yaml:"max_ejection_percent"`
}

// TargetTLS configures TLS from Fulcrum to the targets.
type TargetTLS struct {
	// ServerName is the SNI and verified name; default the target's host.
	ServerName string `yaml:"server_name"`
	// CAFile is a PEM bundle of trusted roots; default the system roots.
	CAFile string `yaml:"ca_file"`
	// InsecureSkipVerify disables certificate verification.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Retries bounds how often a request is tried.
type Retries struct {
	// MaxAttempts counts the first attempt: 1 disables retries. Default 3,
	// range 1..10.
	MaxAttempts int `yaml:"max_attempts"`
	// BudgetPercent caps retries in flight at this percentage of requests in
	// flight, with a minimum of 3 (Envoy's retry budget). Default 20, range
	// 0..100.
	BudgetPercent int `yaml:"budget_percent"`
}

// HealthCheck configures active health checks, following ALB.
type HealthCheck struct {
	// Enabled turns checks on; off puts targets in "unavailable". Default true.
	Enabled bool `yaml:"enabled"`
	// Protocol is http, https, tcp or grpc (protocol.go). Default: the
	// group's protocol.
	Protocol string `yaml:"protocol"`
	// Port is "traffic-port" or a port number. Default traffic-port.
	Port HealthPort `yaml:"port"`
	// Path is the request path for http and https checks. Default /.
	Path string `yaml:"path"`
	// Interval between checks of one target. Default 30s, range 1s..300s.
	Interval Duration `yaml:"interval"`
	// Timeout of one check; shorter than Interval. Default 5s, range 1s..120s.
	Timeout Duration `yaml:"timeout"`
	// HealthyThreshold consecutive passes make a target healthy. Default 5,
	// range 1..10.
	HealthyThreshold int `yaml:"healthy_threshold"`
	// UnhealthyThreshold consecutive failures make it unhealthy. Default 2,
	// range 1..10.
	UnhealthyThreshold int `yaml:"unhealthy_threshold"`
	// Matcher lists accepted status codes: "200", "200,202" or "200-299".
	// Default "200".
	Matcher Matcher `yaml:"matcher"`
}

// Target is one registered target.
type Target struct {
	// Address is host:port; host names are resolved on every new connection.
	Address string `yaml:"address"`
	// Weight is used by weighted_random and weighted round robin. Default 1,
	// range 1..1000.
	Weight int `yaml:"weight"`
	// MaxConnections caps the requests in flight to the target (HAProxy's
	// server maxconn); requests beyond it wait in the group's queue.
	// Default 0: unlimited.
	MaxConnections int `yaml:"max_connections"`
}

// TrafficPort is the HealthPort value meaning "the target's own port".
const TrafficPort = 0
