package proxy

// publicDetail is what a client may see of a failure's detail: all of it
// when the listener sets expose_error_details, otherwise only the request
// id to quote. The detail names target addresses, host names, resolver
// addresses and Go error text; it goes to the access log, the request
// story and the admin API instead (RFC 9209 §2.1.5: details "can be
// included" and are meant for humans, so withholding them is allowed).
func publicDetail(q *request, detail string) string {
	if q.exposeDetails {
		return detail
	}
	return "request id " + q.id + "; the detail is in the load balancer's request history"
}
