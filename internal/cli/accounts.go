//go:build !usp_device

package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/uspkit/uspkit/controller/api"
)

// isAccountCommand tells whether `usp agents ARGS` manages broker
// accounts (add, revoke, accounts) rather than listing agents.
func isAccountCommand(args []string) bool {
	return len(args) > 0 && (args[0] == "add" || args[0] == "revoke" || args[0] == "accounts" || args[0] == "pending" || args[0] == "approve")
}

// runAgentAccounts runs `usp agents add|revoke|accounts`: the embedded
// MQTT broker's Agent accounts, through the REST API (admin token).
func runAgentAccounts(ctx context.Context, e *env, args []string) error {
	switch args[0] {
	case "add":
		return runAgentsAdd(ctx, e, args[1:])
	case "revoke":
		return runAgentsRevoke(ctx, e, args[1:])
	case "pending":
		return runAgentsPending(ctx, e, args[1:])
	case "approve":
		return runAgentsApprove(ctx, e, args[1:])
	}
	return runAgentsAccounts(ctx, e, args[1:])
}

// parseWithID parses flags given before or after one ENDPOINT_ID.
func parseWithID(fs *flag.FlagSet, args []string) (string, error) {
	if err := parse(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		return "", fmt.Errorf("%w: an agent Endpoint ID is needed", errUsage)
	}
	id := fs.Arg(0)
	if err := parse(fs, fs.Args()[1:]); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("%w: one Endpoint ID only (got also %q)", errUsage, fs.Arg(0))
	}
	if err := validateEndpointID(id); err != nil {
		return "", fmt.Errorf("%w: %w", errUsage, err)
	}
	return id, nil
}

// runAgentsAdd: usp agents add ENDPOINT_ID [--password | --cert [--out DIR]].
func runAgentsAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "agents add", "ENDPOINT_ID")
	mk := clientFlags(fs)
	_ = fs.Bool("password", false, "give the agent a generated password (the default)")
	cert := fs.Bool("cert", false, "issue the agent a client certificate and key from the controller's CA instead")
	out := fs.String("out", ".", "`directory` for the certificate, key and CA files (with --cert)")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	kind := "password"
	if *cert {
		kind = "certificate"
	}
	b, err := c.do(ctx, "POST", "/api/v1/accounts", api.AccountBody{EndpointID: id, Credential: kind})
	if err != nil {
		return err
	}
	var cr api.Credentials
	if err := json.Unmarshal(b, &cr); err != nil {
		return err
	}
	if !*cert {
		if c.json {
			e.stdout.Write(b)
			return nil
		}
		fmt.Fprintf(e.stdout, "endpoint_id %s\nusername %s\npassword %s\ntopic %s\n", cr.EndpointID, cr.Username, cr.Password, cr.Topic)
		return nil
	}
	files, err := writeCredentials(*out, &cr)
	if err != nil {
		return err
	}
	if c.json {
		return json.NewEncoder(e.stdout).Encode(map[string]string{"endpoint_id": cr.EndpointID, "topic": cr.Topic,
			"certificate": files[0], "key": files[1], "ca": files[2]})
	}
	fmt.Fprintf(e.stdout, "endpoint_id %s\ncertificate %s\nkey %s\nca %s\ntopic %s\n", cr.EndpointID, files[0], files[1], files[2], cr.Topic)
	return nil
}

// writeCredentials writes the certificate, key (0600) and CA into dir,
// named after the Endpoint ID, and returns the three paths. It refuses
// to overwrite a key.
func writeCredentials(dir string, cr *api.Credentials) ([]string, error) {
	if cr.Certificate == "" || cr.Key == "" {
		return nil, errors.New("the controller returned no certificate")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, strings.ReplaceAll(url.PathEscape(cr.EndpointID), ":", "_"))
	paths := []string{base + ".crt", base + ".key", filepath.Join(dir, "usp-ca.crt")}
	f, err := os.OpenFile(paths[1], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if _, err := f.WriteString(cr.Key); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(paths[0], []byte(cr.Certificate), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(paths[2], []byte(cr.CA), 0o644); err != nil {
		return nil, err
	}
	return paths, nil
}

// runAgentsRevoke: usp agents revoke ENDPOINT_ID.
func runAgentsRevoke(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "agents revoke", "ENDPOINT_ID")
	mk := clientFlags(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	c, err := mk()
	if err != nil {
		return err
	}
	if _, err := c.do(ctx, "DELETE", "/api/v1/accounts/"+url.PathEscape(id), nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked %s\n", id)
	return nil
}

// runAgentsAccounts: usp agents accounts.
func runAgentsAccounts(ctx context.Context, e *env, args []string) error {
	var list struct {
		Accounts []api.Account `json:"accounts"`
	}
	if ok, err := getList(ctx, e, "agents accounts", "/api/v1/accounts", args, &list); !ok || err != nil {
		return err
	}
	for _, a := range list.Accounts {
		fmt.Fprintf(e.stdout, "%s password=%t certificates=%d created=%s\n", a.EndpointID, a.Password, a.Certificates, a.Created.Format("2006-01-02T15:04:05Z07:00"))
	}
	return nil
}
