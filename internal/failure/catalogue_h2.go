package failure

// HTTP/2 catalogue causes: how a stream to an HTTP2 or GRPC target group
// ended (RFC 9113 §5.4, §6.4, §6.8, §8.7). H2Cause names them from an
// *H2Error; the error's text carries the id in brackets.
const (
	CauseH2RefusedStream     = "h2-refused-stream"
	CauseH2GoAwayUnprocessed = "h2-goaway-unprocessed"
	CauseH2GoAway            = "h2-goaway"
	CauseH2StreamReset       = "h2-stream-reset"
	CauseH2ProtocolError     = "h2-protocol-error"
	CauseH2FlowControlStall  = "h2-flow-control-stall"
	CauseH2NotNegotiated     = "h2-not-negotiated"
)

// h2Causes are the HTTP/2 entries of Catalogue.
func h2Causes() []Cause {
	return []Cause{
		{CauseH2RefusedStream, "target", "The target reset the stream with REFUSED_STREAM before processing it (RFC 9113 §8.7), usually because it was at its MAX_CONCURRENT_STREAMS or shutting down; the request is retried for any method.",
			"Raise the target's concurrent stream limit (Go http2.Server.MaxConcurrentStreams, nginx http2_max_concurrent_streams, grpc-go MaxConcurrentStreams) or add targets."},
		{CauseH2GoAwayUnprocessed, "target", "The target sent GOAWAY with a last-stream-id below the stream: it never processed the request (RFC 9113 §6.8), so it was retried.",
			"Usually a graceful restart or a connection age limit (grpc-go MaxConnectionAge); nothing to fix unless it is frequent, then lengthen the target's connection lifetime."},
		{CauseH2GoAway, "target", "The target sent GOAWAY and closed the connection while the stream was in flight: it may have processed the request.",
			"Check the target for restarts and connection age limits (grpc-go MaxConnectionAge with MaxConnectionAgeGrace, nginx keepalive_requests); give in-flight streams time to finish before closing."},
		{CauseH2StreamReset, "target", "The target reset the stream (RST_STREAM CANCEL, INTERNAL_ERROR or ENHANCE_YOUR_CALM) after the request was sent.",
			"Read the target's logs for the request; ENHANCE_YOUR_CALM means it rate-limits the load balancer's connection."},
		{CauseH2ProtocolError, "target", "The target broke HTTP/2 (a PROTOCOL_ERROR, FRAME_SIZE_ERROR, COMPRESSION_ERROR or FLOW_CONTROL_ERROR), or does not speak HTTP/2 at all on a cleartext port (h2c prior knowledge).",
			"Check that the target serves HTTP/2 on this port: curl -v --http2-prior-knowledge http://TARGET/ (or --http2 for TLS); set protocol_version: HTTP1 if it does not."},
		{CauseH2FlowControlStall, "target", "The target kept its flow-control window closed: the request body could not be sent for the idle timeout (RFC 9113 §5.2).",
			"The target does not read the request body; check its handler and its HTTP/2 window settings (initial window size)."},
		{CauseH2NotNegotiated, "target", "The TLS target did not select h2 with ALPN: it does not offer HTTP/2.",
			"openssl s_client -alpn h2 -connect TARGET; enable HTTP/2 on the target or set protocol_version: HTTP1."},
	}
}
