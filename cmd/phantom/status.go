package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

// statusFlags are the flags of `phantom status`.
type statusFlags struct {
	controlPlane string
	token        string
	tokenFile    string
	asJSON       bool
	timeout      time.Duration
}

// statusCommand is `phantom status`: the control plane's GET /v1/cluster
// as tables (nodes, shards, endpoints) or JSON.
func statusCommand(out io.Writer) *ffcli.Command {
	var f statusFlags
	fs := flag.NewFlagSet("phantom status", flag.ContinueOnError)
	fs.StringVar(&f.controlPlane, "control-plane", "http://127.0.0.1:8433", "control plane URL")
	fs.StringVar(&f.token, "control-plane-token", "", "the control plane's admin token (empty: read --control-plane-token-file)")
	fs.StringVar(&f.tokenFile, "control-plane-token-file", "", "file holding the control plane's admin token")
	fs.BoolVar(&f.asJSON, "json", false, "print the control plane's JSON answer instead of tables")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the control plane")
	return &ffcli.Command{
		Name:       "status",
		ShortUsage: "phantom status [--control-plane URL] [--control-plane-token T] [--json]",
		ShortHelp:  "show the cluster: nodes with roles and health, shards, endpoints and their sizes",
		FlagSet:    fs,
		Options:    envOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			token, err := tokenFrom(f.token, f.tokenFile)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, f.timeout)
			defer cancel()
			raw, err := fetchCluster(ctx, f.controlPlane, token)
			if err != nil {
				return err
			}
			if f.asJSON {
				_, err := out.Write(raw)
				return err
			}
			var c controlplane.Cluster
			if err := json.Unmarshal(raw, &c); err != nil {
				return fmt.Errorf("status: decode the control plane's answer: %w", err)
			}
			return printCluster(out, c)
		},
	}
}

// fetchCluster answers the body of GET <base>/v1/cluster.
func fetchCluster(ctx context.Context, base, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/v1/cluster", nil)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("status: control plane %s: %w", base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("status: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("status: the control plane refused the token (%s); pass --control-plane-token or PHANTOM_CONTROL_PLANE_TOKEN", e.Error.Message)
		}
		return nil, fmt.Errorf("status: control plane answered %s: %s", resp.Status, e.Error.Message)
	}
	return b, nil
}

// printCluster writes the cluster view as three aligned tables.
func printCluster(out io.Writer, c controlplane.Cluster) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NODES\n")
	fmt.Fprintf(tw, "ID\tROLE\tADDRESS\tHEALTH\tLAST SEEN\tLOAD\n")
	nodes := append([]controlplane.ClusterNode(nil), c.Nodes...)
	sort.SliceStable(nodes, func(i, j int) bool {
		if nodes[i].Role != nodes[j].Role {
			return nodes[i].Role < nodes[j].Role
		}
		return nodes[i].ID < nodes[j].ID
	})
	for _, n := range nodes {
		ago := c.At.Sub(n.LastSeen).Round(100 * time.Millisecond)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s ago\t%s\n", n.ID, n.Role, n.Address, n.Health, ago, formatLoad(n.Load))
	}
	if len(nodes) == 0 {
		fmt.Fprintf(tw, "(none: the control plane runs without --nats-url, or no node has reported)\n")
	}
	fmt.Fprintf(tw, "\nSHARDS\n")
	fmt.Fprintf(tw, "SHARD\tPAGE SERVERS\tAPPLIED INDEX\tCHECKPOINT INDEX\n")
	for _, s := range c.Shards {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\n", s.ID, strings.Join(s.PageServers, ","), s.AppliedIndex, s.CheckpointIndex)
	}
	if len(c.Shards) == 0 {
		fmt.Fprintf(tw, "(no alive page server)\n")
	}
	fmt.Fprintf(tw, "\nENDPOINTS\n")
	fmt.Fprintf(tw, "ID\tNAME\tDATABASE\tBRANCH\tMODE\tCOMPUTES\tREADY\tMIN\tMAX\tCOMPUTE IDS\n")
	for _, e := range c.Endpoints {
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", e.ID, e.Name, e.Tenant, e.Database, e.Branch, e.Mode,
			e.Computes, e.Ready, e.MinComputes, e.MaxComputes, strings.Join(e.ComputeIDs, ","))
	}
	if len(c.Endpoints) == 0 {
		fmt.Fprintf(tw, "(no endpoint)\n")
	}
	return tw.Flush()
}

// formatLoad prints a load map as sorted name=value pairs.
func formatLoad(l map[string]float64) string {
	if len(l) == 0 {
		return "-"
	}
	names := make([]string, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.FormatFloat(l[k], 'g', 6, 64)
	}
	return strings.Join(parts, " ")
}
