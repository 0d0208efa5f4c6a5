// Package metrics exports Fulcrum's Prometheus metrics. The metric names
// and labels are a contract (docs/observability.md): they mirror ALB's
// CloudWatch metrics
// (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html) with Fulcrum's RFC 9209 error types
// as labels. Label values are bounded: listeners, target groups and targets
// come from the configuration or registration, never from a request.
//
// Every method is safe for concurrent use and does nothing on a nil
// *Metrics, so code paths need no checks when metrics are off.
package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/fulcrumlb/fulcrum/internal/failure"
	"github.com/fulcrumlb/fulcrum/internal/target"
)

// Metrics holds Fulcrum's collectors, registered on one registry.
type Metrics struct {
	hot              hot // hot.go
	requests         *prometheus.CounterVec
	connErrors       *prometheus.CounterVec
	tlsErrors        *prometheus.CounterVec
	retries          *prometheus.CounterVec
	budgetExhausted  *prometheus.CounterVec
	healthChecks     *prometheus.CounterVec
	unhealthyRouting *prometheus.CounterVec
	activeConns      *prometheus.GaugeVec
	connsTotal       *prometheus.CounterVec
	rejectedConns    *prometheus.CounterVec
	configReloads    *prometheus.CounterVec
	ejections        *prometheus.CounterVec
	queued           *prometheus.CounterVec
	queueRejected    *prometheus.CounterVec
	desync           *prometheus.CounterVec
	grpc             *prometheus.CounterVec // grpc.go

	reg   prometheus.Registerer
	codes [600]string
}

// New creates the metrics and registers them, with the Go runtime and
// process collectors, on reg. It panics if a name is already registered
// on reg, as prometheus.MustRegister does.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		reg:  reg,
		grpc: newGRPC(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_requests_total",
			Help: "Requests answered, by listener, target group, status code and source: elb when Fulcrum produced the response, target when a target did.",
		}, []string{"listener", "target_group", "code", "source"}),
		connErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_target_connection_errors_total",
			Help: "Failed attempts to targets by RFC 9209 error type and whether the connection was reused (ALB TargetConnectionErrorCount). Health checks are excluded.",
		}, []string{"target_group", "target", "error_type", "reused"}),
		tlsErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_target_tls_negotiation_errors_total",
			Help: "TLS handshakes with targets that failed (ALB TargetTLSNegotiationErrorCount).",
		}, []string{"target_group", "target"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_retries_total",
			Help: "Retries, by the error type of the attempt that failed.",
		}, []string{"target_group", "error_type"}),
		budgetExhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_retry_budget_exhausted_total",
			Help: "Retries refused because the target group's retry budget was spent.",
		}, []string{"target_group"}),
		healthChecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_health_checks_total",
			Help: "Health checks by result (pass or fail) and ALB reason code.",
		}, []string{"target_group", "target", "result", "reason"}),
		unhealthyRouting: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_unhealthy_routing_requests_total",
			Help: "Requests routed while no target was healthy, so the group failed open (ALB UnHealthyRoutingRequestCount).",
		}, []string{"target_group"}),
		activeConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fulcrum_active_connections",
			Help: "Client connections open now.",
		}, []string{"listener"}),
		connsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_connections_total",
			Help: "Client connections accepted (ALB NewConnectionCount).",
		}, []string{"listener"}),
		rejectedConns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_rejected_connections_total",
			Help: "Client connections refused because a limit was reached (ALB RejectedConnectionCount).",
		}, []string{"listener"}),
		configReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_config_reloads_total",
			Help: "Configuration reloads by result: success, or failure when the new file had problems and the running configuration stayed.",
		}, []string{"result"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_outlier_ejections_total",
			Help: "Targets ejected by passive health (outlier detection) after failing real traffic.",
		}, []string{"target_group", "target"}),
		queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_queued_requests_total",
			Help: "Requests that waited in the target group's queue because every routable target was at max_connections (CLB SurgeQueueLength events).",
		}, []string{"target_group"}),
		queueRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_queue_rejected_requests_total",
			Help: "Requests answered 503 connection_limit_reached because the queue was full or queue_timeout expired (CLB SpilloverCount).",
		}, []string{"target_group", "reason"}),
		desync: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fulcrum_desync_requests_total",
			Help: "Requests classified other than Compliant by HTTP desync mitigation, by tier and reason, whatever the mode did with them (ALB DesyncMitigationMode_NonCompliant_Request_Count).",
		}, []string{"listener", "classification", "reason"}),
	}
	m.configReloads.WithLabelValues("success")
	m.configReloads.WithLabelValues("failure")
	for i := range m.codes {
		m.codes[i] = strconv.Itoa(i)
	}
	reg.MustRegister(m.requests, m.connErrors, m.tlsErrors, m.retries, m.budgetExhausted,
		m.healthChecks, m.unhealthyRouting, m.activeConns, m.connsTotal, m.rejectedConns,
		m.configReloads, m.ejections, m.queued, m.queueRejected, m.desync, m.grpc,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// AddListener creates the listener's connection series at zero, so they
// exist before the first connection.
func (m *Metrics) AddListener(listener string) {
	if m == nil {
		return
	}
	m.activeConns.WithLabelValues(listener)
	m.connsTotal.WithLabelValues(listener)
	m.rejectedConns.WithLabelValues(listener)
}

// AddTargetGroup creates the group's counters at zero.
func (m *Metrics) AddTargetGroup(group string) {
	if m == nil {
		return
	}
	m.budgetExhausted.WithLabelValues(group)
	m.unhealthyRouting.WithLabelValues(group)
	m.queued.WithLabelValues(group)
	m.queueRejected.WithLabelValues(group, "full")
	m.queueRejected.WithLabelValues(group, "timeout")
}

// ConfigReload counts one configuration reload.
func (m *Metrics) ConfigReload(ok bool) {
	if m == nil {
		return
	}
	result := "failure"
	if ok {
		result = "success"
	}
	m.configReloads.WithLabelValues(result).Inc()
}

// OutlierEjection counts a target ejected by outlier detection.
func (m *Metrics) OutlierEjection(group, addr string) {
	if m == nil {
		return
	}
	m.ejections.WithLabelValues(group, addr).Inc()
}

// Queued counts a request that had to wait for a target slot.
func (m *Metrics) Queued(group string) {
	if m == nil {
		return
	}
	m.queued.WithLabelValues(group).Inc()
}

// QueueRejected counts a request answered 503 from the queue; reason is
// full or timeout.
func (m *Metrics) QueueRejected(group, reason string) {
	if m == nil {
		return
	}
	m.queueRejected.WithLabelValues(group, reason).Inc()
}

// WatchQueues registers fulcrum_queue_length, read from lengths at scrape
// time: requests waiting for a target slot per target group.
func (m *Metrics) WatchQueues(lengths func() map[string]int64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&queueCollector{lengths: lengths, desc: prometheus.NewDesc("fulcrum_queue_length",
		"Requests waiting now for a target slot (CLB SurgeQueueLength).", []string{"target_group"}, nil)})
}

type queueCollector struct {
	lengths func() map[string]int64
	desc    *prometheus.Desc
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	for g, n := range c.lengths() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), g)
	}
}

func (m *Metrics) code(c int) string {
	if c >= 0 && c < len(m.codes) {
		return m.codes[c]
	}
	return strconv.Itoa(c)
}

// Request counts one answered request. elb is true when Fulcrum produced
// the response (no target status). group is "" for requests refused
// before routing.
func (m *Metrics) Request(listener, group string, code int, elb bool) {
	if m == nil {
		return
	}
	source := "target"
	if elb {
		source = "elb"
	}
	m.requestCounter(requestKey{listener, group, m.code(code), source}).Inc()
}

// AttemptFailed counts one failed attempt with its class. Failures that are
// not the target's (failure.Class.TargetFault: a client that went away, the
// load balancer's own answers) are not counted.
func (m *Metrics) AttemptFailed(group, addr string, c failure.Class) {
	if m == nil || !c.TargetFault() {
		return
	}
	m.connErrors.WithLabelValues(group, addr, c.Type.String(), strconv.FormatBool(c.Reused)).Inc()
	if c.Type == failure.TLSProtocolError || c.Type == failure.TLSCertificateError {
		m.tlsErrors.WithLabelValues(group, addr).Inc()
	}
}

// Retry counts a retry after a failure of type et.
func (m *Metrics) Retry(group string, et failure.ErrorType) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(group, et.String()).Inc()
}

// RetryBudgetExhausted counts a retry the budget refused.
func (m *Metrics) RetryBudgetExhausted(group string) {
	if m == nil {
		return
	}
	m.budgetExhausted.WithLabelValues(group).Inc()
}

// HealthCheck counts one health check; reason is its ALB reason code, ""
// when it passed.
func (m *Metrics) HealthCheck(group, addr string, ok bool, reason string) {
	if m == nil {
		return
	}
	result := "fail"
	if ok {
		result = "pass"
	}
	m.healthChecks.WithLabelValues(group, addr, result, reason).Inc()
}

// UnhealthyRouting counts a request routed while the group failed open.
func (m *Metrics) UnhealthyRouting(group string) {
	if m == nil {
		return
	}
	m.unhealthyRouting.WithLabelValues(group).Inc()
}

// ConnOpened counts an accepted client connection.
func (m *Metrics) ConnOpened(listener string) {
	if m == nil {
		return
	}
	m.connsTotal.WithLabelValues(listener).Inc()
	m.activeConns.WithLabelValues(listener).Inc()
}

// ConnClosed counts a client connection's close.
func (m *Metrics) ConnClosed(listener string) {
	if m == nil {
		return
	}
	m.activeConns.WithLabelValues(listener).Dec()
}

// Desync counts a request whose desync classification is not Compliant:
// classification is the tier ("Acceptable", "Ambiguous", "Severe"),
// reason its ALB classification_reason ("BothTeClPresent", ...).
func (m *Metrics) Desync(listener, classification, reason string) {
	if m == nil {
		return
	}
	m.desync.WithLabelValues(listener, classification, reason).Inc()
}

// ConnRejected counts a client connection refused at a limit.
func (m *Metrics) ConnRejected(listener string) {
	if m == nil {
		return
	}
	m.rejectedConns.WithLabelValues(listener).Inc()
}

// WatchTargetGroups registers the health gauges and the targets'
// response-time histograms, computed at scrape time from the groups that
// groups returns, so they never disagree with the admin API.
func (m *Metrics) WatchTargetGroups(groups func() []*target.Group) {
	if m == nil {
		return
	}
	m.reg.MustRegister(newHealthCollector(groups), newResponseTimeCollector(groups))
}

// WatchAccessLog registers fulcrum_access_log_dropped_total, read from
// dropped at scrape time.
func (m *Metrics) WatchAccessLog(dropped func() int64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "fulcrum_access_log_dropped_total",
		Help: "Access log lines lost: dropped because the writer fell behind, or not written because the file could not be written.",
	}, func() float64 { return float64(dropped()) }))
}
