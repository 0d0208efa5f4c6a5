package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func named(name string, seen *http.Header) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			*seen = r.Header.Clone()
		}
		io.WriteString(w, name)
	}))
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// TestRuleActions runs every action through a listener: redirect,
// fixed_response, a header-conditioned forward, weighted groups and the
// default action, and checks the X-Amzn-Trace-Id the target gets.
func TestRuleActions(t *testing.T) {
	var seenV1 http.Header
	v1, v2, v3 := named("v1", &seenV1), named("v2", nil), named("v3", nil)
	defer v1.Close()
	defer v2.Close()
	defer v3.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners:
  - name: web
    address: "127.0.0.1:0"
    default_action: {type: forward, target_group: v1}
    rules:
      - priority: 10
        conditions:
          - {field: host_header, values: ["api.example.com", "*.api.example.com"]}
          - {field: http_header, name: X-Canary, values: ["1"]}
        action: {type: forward, target_groups: [{name: v2, weight: 0}, {name: v3, weight: 10}], stickiness: {enabled: true, duration: 1h}}
      - priority: 20
        conditions: [{field: path_pattern, values: ["/old/*"]}]
        action: {type: redirect, redirect: {path: "/new/#{path}", status_code: 301}}
      - priority: 30
        conditions: [{field: http_request_method, values: [DELETE]}]
        action: {type: fixed_response, fixed_response: {status_code: 403, content_type: text/plain, message_body: "no"}}
      - priority: 40
        conditions: [{field: query_string, values: [{key: v, value: "2"}]}]
        action: {type: forward, target_group: v2}
target_groups:
  - {name: v1, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: v2, health_check: {enabled: false}, targets: [{address: %q}]}
  - {name: v3, health_check: {enabled: false}, targets: [{address: %q}]}
`, hostPort(v1.URL), hostPort(v2.URL), hostPort(v3.URL)))
	c := noRedirect()
	do := func(method, path, host string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		if host != "" {
			req.Host = host
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, _ := do("GET", "/old/a/b?x=1", "shop.example.com")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "http://shop.example.com:"+strings.Split(addr, ":")[1]+"/new/old/a/b?x=1" {
		t.Errorf("redirect: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := do("DELETE", "/x", "")
	if resp.StatusCode != 403 || body != "no" || resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Server") != "fulcrum" {
		t.Errorf("fixed_response: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	for range 5 {
		resp, body = do("GET", "/", "a.api.example.com", "X-Canary", "1")
		if body != "v3" {
			t.Fatalf("weighted forward with v2 at weight 0 went to %q", body)
		}
	}
	if !strings.Contains(resp.Header.Get("Set-Cookie"), "AWSALBTG=") {
		t.Errorf("target group stickiness set no AWSALBTG cookie: %v", resp.Header["Set-Cookie"])
	}
	if _, body = do("GET", "/", "api.example.com", "X-Canary", "0"); body != "v1" {
		t.Errorf("a request failing one condition of rule 10 went to %q, want the default v1", body)
	}
	if _, body = do("GET", "/?a=1&v=2", ""); body != "v2" {
		t.Errorf("query_string rule went to %q", body)
	}
	do("GET", "/trace", "")
	if tr := seenV1.Get("X-Amzn-Trace-Id"); !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(tr) {
		t.Errorf("X-Amzn-Trace-Id sent to the target = %q", tr)
	}
	do("GET", "/trace", "", "X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Self=old")
	if tr := seenV1.Get("X-Amzn-Trace-Id"); !regexp.MustCompile(`^Self=1-[0-9a-f]{8}-[0-9a-f]{24};Root=1-5759e988-bd862e3fe1be46a994272793$`).MatchString(tr) {
		t.Errorf("X-Amzn-Trace-Id with a Root = %q", tr)
	}
}

// TestStickinessAcrossTargetFailure: an lb_cookie keeps a client on its
// target; when that target fails, the request is served by another and
// the cookie moves to it.
func TestStickinessAcrossTargetFailure(t *testing.T) {
	a, b := named("a", nil), named("b", nil)
	defer b.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    stickiness: {enabled: true, type: lb_cookie, duration: 1h}
    health_check: {enabled: false}
    targets: [{address: %q}, {address: %q}]
`, hostPort(a.URL), hostPort(b.URL)))
	get := func(cookie string) (string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, c := range resp.Cookies() {
			if c.Name == "AWSALB" {
				if strings.Contains(c.Value, "127.0.0.1") {
					t.Fatalf("AWSALB shows the target address: %q", c.Value)
				}
				return string(body), c.Name + "=" + c.Value
			}
		}
		t.Fatalf("no AWSALB cookie: %v", resp.Header["Set-Cookie"])
		return "", ""
	}
	first, cookie := get("")
	for range 6 {
		if got, _ := get(cookie); got != first {
			t.Fatalf("sticky request went to %q, first went to %q", got, first)
		}
	}
	if first == "a" {
		a.Close()
	} else {
		b.Close()
		defer a.Close()
	}
	other, moved := get(cookie)
	if other == first {
		t.Fatalf("request with the failed target's cookie got %q", other)
	}
	for range 4 {
		if got, _ := get(moved); got != other {
			t.Fatalf("after the failure the client went to %q, want %q", got, other)
		}
	}
}

// TestStickyAppCookieAcrossTargetFailure: with app_cookie stickiness the
// AWSALBAPP-0 cookie is set only when the target sets the application's
// cookie (SESSION), keeps the client on that target, and when the target
// fails the request goes to the other one, which starts a new session, and
// the cookie moves with it.
func TestStickyAppCookieAcrossTargetFailure(t *testing.T) {
	app := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c, err := r.Cookie("SESSION"); err != nil || c.Value != name {
				http.SetCookie(w, &http.Cookie{Name: "SESSION", Value: name, Path: "/"})
			}
			io.WriteString(w, name)
		}))
	}
	a, b := app("a"), app("b")
	defer a.Close()
	defer b.Close()
	_, addr := startServer(t, fmt.Sprintf(`
listeners: [{name: web, address: "127.0.0.1:0", default_target_group: app}]
target_groups:
  - name: app
    stickiness: {enabled: true, type: app_cookie, cookie_name: SESSION, duration: 1h}
    health_check: {enabled: false}
    targets: [{address: %q}, {address: %q}]
`, hostPort(a.URL), hostPort(b.URL)))
	// get sends cookies and returns the body and the cookies set.
	get := func(cookies map[string]string) (string, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		for k, v := range cookies {
			req.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		set := map[string]string{}
		for _, c := range resp.Cookies() {
			set[c.Name] = c.Value
		}
		return string(body), set
	}
	first, set := get(nil)
	if set["SESSION"] != first || set["AWSALBAPP-0"] == "" {
		t.Fatalf("first response from %q set %v, want SESSION and AWSALBAPP-0", first, set)
	}
	if strings.Contains(set["AWSALBAPP-0"], "127.0.0.1") {
		t.Fatalf("AWSALBAPP-0 shows the target address: %q", set["AWSALBAPP-0"])
	}
	jar := map[string]string{"SESSION": set["SESSION"], "AWSALBAPP-0": set["AWSALBAPP-0"]}
	for range 6 {
		got, set := get(jar)
		if got != first {
			t.Fatalf("sticky request went to %q, first went to %q", got, first)
		}
		if _, ok := set["AWSALBAPP-0"]; ok {
			t.Fatalf("AWSALBAPP-0 set although the target did not set SESSION: %v", set)
		}
	}
	if first == "a" {
		a.Close()
	} else {
		b.Close()
	}
	other, set := get(jar)
	if other == first || other == "" {
		t.Fatalf("request with the failed target's cookie got %q", other)
	}
	if set["SESSION"] != other || set["AWSALBAPP-0"] == "" || set["AWSALBAPP-0"] == jar["AWSALBAPP-0"] {
		t.Fatalf("after the failure the response set %v, want a new SESSION and AWSALBAPP-0", set)
	}
	jar = map[string]string{"SESSION": set["SESSION"], "AWSALBAPP-0": set["AWSALBAPP-0"]}
	for range 4 {
		if got, _ := get(jar); got != other {
			t.Fatalf("after the failure the client went to %q, want %q", got, other)
		}
	}
}
