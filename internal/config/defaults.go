package config

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults follow ALB where ALB has one (health check settings:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html; idle timeout:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#connection-idle-timeout;
// header limits: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html; deregistration delay:
// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay); the rest are documented in docs/configuration.md.
const (
	DefaultAdminAddress         = "127.0.0.1:9901"
	DefaultRequestHistory       = 1000
	DefaultRequestHistoryFail   = 10000
	DefaultRequestHistoryBytes  = 64 << 20
	DefaultSocketMode           = "0660"
	DefaultShutdownGrace        = 30 * time.Second
	DefaultIdleTimeout          = 60 * time.Second
	DefaultConnectTimeout       = 10 * time.Second
	DefaultDeregistrationDelay  = 300 * time.Second
	DefaultKeepaliveIdleTimeout = 60 * time.Second
	DefaultMaxIdlePerTarget     = 256
	DefaultMaxAttempts          = 3
	DefaultRetryBudgetPercent   = 20
	DefaultHealthInterval       = 30 * time.Second
	DefaultHealthTimeout        = 5 * time.Second
	DefaultHealthyThreshold     = 5
	DefaultUnhealthyThreshold   = 2
	DefaultAccessLogBufferLines = 8192
	DefaultAccessLogFormat      = "alb"
	DefaultProtocol             = "http"
	DefaultAlgorithm            = "round_robin"
	DefaultHealthPath           = "/"
	DefaultMatcher              = "200"
	DefaultTargetWeight         = 1
	DefaultQueueSize            = 1024
	DefaultQueueTimeout         = 10 * time.Second
	DefaultConsecutiveConnErrs  = 5
	DefaultDesyncMitigationMode = "defensive"
	DefaultRequestHeaderTimeout = 10 * time.Second
	DefaultMaxHeaderBytes       = 64 << 10
	DefaultMaxHeaders           = 128
	DefaultMaxURIBytes          = 16 << 10
	DefaultBaseEjectionTime     = 30 * time.Second
	DefaultMaxEjectionTime      = 300 * time.Second
	DefaultMaxEjectionPercent   = 50
)

// Default returns a Config with every top-level default set. Defaults of
// list elements (listeners, target groups, targets) are set as each element
// is decoded.
func Default() Config {
	return Config{
		Admin: Admin{Address: DefaultAdminAddress, RequestHistory: DefaultRequestHistory,
			RequestHistoryFailures: DefaultRequestHistoryFail, RequestHistoryBytes: DefaultRequestHistoryBytes, SocketMode: DefaultSocketMode},
		ShutdownGrace: Duration(DefaultShutdownGrace),
	}
}

// DefaultTargetGroup returns a target group with ALB's defaults.
func DefaultTargetGroup() TargetGroup {
	m, _ := ParseMatcher(DefaultMatcher)
	return TargetGroup{
		Protocol:             DefaultProtocol,
		Algorithm:            DefaultAlgorithm,
		ConnectTimeout:       Duration(DefaultConnectTimeout),
		DeregistrationDelay:  Duration(DefaultDeregistrationDelay),
		KeepaliveIdleTimeout: Duration(DefaultKeepaliveIdleTimeout),
		MaxIdlePerTarget:     DefaultMaxIdlePerTarget,
		Retries:              Retries{MaxAttempts: DefaultMaxAttempts, BudgetPercent: DefaultRetryBudgetPercent},
		QueueSize:            DefaultQueueSize,
		QueueTimeout:         Duration(DefaultQueueTimeout),
		OutlierDetection: OutlierDetection{
			ConsecutiveConnectionErrors: DefaultConsecutiveConnErrs,
			BaseEjectionTime:            Duration(DefaultBaseEjectionTime),
			MaxEjectionTime:             Duration(DefaultMaxEjectionTime),
			MaxEjectionPercent:          DefaultMaxEjectionPercent,
		},
		HealthCheck: HealthCheck{
			Enabled:            true,
			Port:               TrafficPort,
			Path:               DefaultHealthPath,
			Interval:           Duration(DefaultHealthInterval),
			Timeout:            Duration(DefaultHealthTimeout),
			HealthyThreshold:   DefaultHealthyThreshold,
			UnhealthyThreshold: DefaultUnhealthyThreshold,
			Matcher:            m,
		},
	}
}

// UnmarshalYAML decodes a target group over its defaults.
func (tg *TargetGroup) UnmarshalYAML(n *yaml.Node) error {
	type plain TargetGroup
	v := plain(DefaultTargetGroup())
	if err := n.Decode(&v); err != nil {
		return err
	}
	*tg = TargetGroup(v)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "keepalive_idle_timeout" {
			tg.KeepaliveIdleTimeoutSet = true
		}
	}
	return nil
}

// UnmarshalYAML decodes a listener over its defaults.
func (l *Listener) UnmarshalYAML(n *yaml.Node) error {
	type plain Listener
	v := plain{Protocol: DefaultProtocol, IdleTimeout: Duration(DefaultIdleTimeout),
		DesyncMitigationMode: DefaultDesyncMitigationMode, RequestHeaderTimeout: Duration(DefaultRequestHeaderTimeout),
		MaxHeaderBytes: DefaultMaxHeaderBytes, MaxHeaders: DefaultMaxHeaders, MaxURIBytes: DefaultMaxURIBytes}
	if err := n.Decode(&v); err != nil {
		return err
	}
	*l = Listener(v)
	return nil
}

// UnmarshalYAML decodes a target over its defaults.
func (t *Target) UnmarshalYAML(n *yaml.Node) error {
	type plain Target
	v := plain{Weight: DefaultTargetWeight}
	if err := n.Decode(&v); err != nil {
		return err
	}
	*t = Target(v)
	return nil
}

// UnmarshalYAML decodes the access log settings over their defaults.
func (a *AccessLog) UnmarshalYAML(n *yaml.Node) error {
	type plain AccessLog
	v := plain{Format: DefaultAccessLogFormat, BufferLines: DefaultAccessLogBufferLines}
	if err := n.Decode(&v); err != nil {
		return err
	}
	*a = AccessLog(v)
	return nil
}
