package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fulcrumlb/fulcrum/internal/admin"
	"github.com/fulcrumlb/fulcrum/internal/config"
)

// adminClient calls a running fulcrum's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
	// width is the terminal width status lays its table out for; below
	// 80 (0 when not a terminal) means 80.
	width int
}

// adminFlags are the flags every command that talks to a running
// fulcrum takes: --admin, -c and --token-file.
type adminFlags struct{ url, config, tokenFile string }

// add registers the flags on cmd.
func (a *adminFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&a.url, "admin", "", "admin API URL or host:port (default admin.address from -c, else 127.0.0.1:9901)")
	f.StringVarP(&a.config, "config", "c", "", "configuration file to take admin.address and admin.token_file from")
	f.StringVar(&a.tokenFile, "token-file", "", "file holding the admin bearer token (default admin.token_file from -c)")
}

// client resolves the flags into an admin client.
func (a *adminFlags) client() (*adminClient, error) {
	return newAdminClient(a.url, a.config, a.tokenFile)
}

// newAdminClient resolves the admin URL and token from the flags, the
// config file, or the defaults.
func newAdminClient(adminURL, cfgPath, tokenFile string) (*adminClient, error) {
	c := &adminClient{base: adminURL, http: &http.Client{Timeout: 10 * time.Second}}
	if cfgPath != "" {
		cfg, err := config.LoadFile(cfgPath)
		if err != nil {
			return nil, configFailure(err)
		}
		if c.base == "" {
			if c.base, err = configAdminBase(cfg, cfgPath); err != nil {
				return nil, err
			}
		}
		if tokenFile == "" {
			tokenFile = cfg.Admin.TokenFile
		}
	}
	if c.base == "" {
		c.base = "http://" + config.DefaultAdminAddress
	}
	c.base = adminBase(c.base)
	if tokenFile != "" {
		tok, err := admin.ReadToken(tokenFile)
		if err != nil {
			return nil, &exitError{code: 1, err: err}
		}
		c.token = tok
	}
	return c, nil
}

// configAdminBase is the admin URL of cfg (read from cfgPath, named in
// errors): admin.address, or when its port is 0 (chosen at start) the
// address admin.socket's show info reports. The error is an exitError
// with code 1 when neither tells.
func configAdminBase(cfg *config.Config, cfgPath string) (string, error) {
	addr := config.DialAddress(cfg.Admin.Address)
	if addr == "" {
		if cfg.Admin.Socket == "" {
			return "", &exitError{code: 1, err: fmt.Errorf("%s: admin.address %s has port 0, so its port is chosen at start; pass --admin with the address of the \"admin started\" log line, or set admin.socket so it can be looked up", cfgPath, cfg.Admin.Address)}
		}
		var err error
		if addr, err = adminFromSocket(cfg.Admin.Socket); err != nil {
			return "", &exitError{code: 1, err: err}
		}
	}
	return "http://" + addr, nil
}

// adminBase normalizes an admin URL: host:port (the form admin.address
// takes) gets http://, and a trailing slash goes.
func adminBase(u string) string {
	if !strings.Contains(u, "://") {
		u = "http://" + u
	}
	return strings.TrimSuffix(u, "/")
}

// get fetches path and decodes its JSON into v; an admin error answer
// becomes an error carrying its message and detail.
func (c *adminClient) get(ctx context.Context, path string, v any) ([]byte, error) {
	return c.do(ctx, "GET", path, nil, v)
}

// do sends one admin request with an optional JSON body and decodes a 2xx
// answer into v. On an error answer it returns the body too, with an
// error carrying the answer's message and detail.
func (c *adminClient) do(ctx context.Context, method, path string, in, v any) ([]byte, error) {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("admin URL %q: %w", c.base, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the admin API at %s (is fulcrum serve running, and is this its admin.address?): %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s%s: %w", c.base, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Detail string }
		json.Unmarshal(body, &e)
		return body, fmt.Errorf("admin API %s %s%s: %s: %s (%s)", method, c.base, path, resp.Status, e.Error, e.Detail)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return nil, fmt.Errorf("admin API %s%s: bad JSON: %w", c.base, path, err)
		}
	}
	return body, nil
}

// status writes one snapshot of the target groups in the given output.

func jsonUnmarshal(b []byte, v any) error {
	if len(b) == 0 {
		return fmt.Errorf("empty answer")
	}
	return json.Unmarshal(b, v)
}
