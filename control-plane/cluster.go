package controlplane

import (
	"net/http"
	"sort"
	"strconv"
	"time"
)

// ClusterNode is one node of GET /v1/cluster, as the membership knows it.
type ClusterNode struct {
	// ID is the node id of its heartbeats.
	ID string `json:"id"`
	// Role is compute, logservice, pageserver or control-plane.
	Role string `json:"role"`
	// Address is the node's main API address (a page server's gRPC
	// address, a compute's HTTP address).
	Address string `json:"address"`
	// Health is "alive", or "dead" once the node missed heartbeats for the
	// control plane's --heartbeat-timeout.
	Health    string    `json:"health"`
	LastSeen  time.Time `json:"last_seen"`
	StartedAt time.Time `json:"started_at"`
	// Load is the node's self-reported load from its latest heartbeat
	// (sessions, queries/s, CPU, p99, role-specific gauges).
	Load map[string]float64 `json:"load,omitempty"`
}

// ClusterShard is one shard of GET /v1/cluster: the page servers that
// announce it in their heartbeats and their positions.
type ClusterShard struct {
	ID int `json:"id"`
	// PageServers are the alive page servers serving the shard.
	PageServers []string `json:"page_servers"`
	// AppliedIndex and CheckpointIndex are the highest log index an alive
	// page server of the shard applied and checkpointed to object storage.
	AppliedIndex    uint64 `json:"applied_index"`
	CheckpointIndex uint64 `json:"checkpoint_index"`
}

// ClusterEndpoint is one endpoint of GET /v1/cluster with its size.
type ClusterEndpoint struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Tenant      string `json:"tenant"`
	Database    string `json:"database"`
	Branch      string `json:"branch"`
	Mode        string `json:"mode"`
	MinComputes int    `json:"min_computes"`
	MaxComputes int    `json:"max_computes"`
	// Computes counts the endpoint's computes that are not draining
	// (starting or ready); Ready those that take work.
	Computes int `json:"computes"`
	Ready    int `json:"ready"`
	// ComputeIDs lists every compute with its state ("id:state").
	ComputeIDs []string `json:"compute_ids"`
}

// Cluster is the body of GET /v1/cluster.
type Cluster struct {
	// At is when the view was taken, on the control plane's clock.
	At        time.Time         `json:"at"`
	Nodes     []ClusterNode     `json:"nodes"`
	Shards    []ClusterShard    `json:"shards"`
	Endpoints []ClusterEndpoint `json:"endpoints"`
}

// ClusterNodes is implemented by a Config.Members that can list nodes as
// ClusterNodes (the natsbus membership does, through cmd/phantom).
type ClusterNodes interface {
	ClusterNodes() []ClusterNode
}

// Page server heartbeat gauges (natsbus.Load.Extra) the cluster view reads.
const (
	LoadShard           = "shard"
	LoadAppliedIndex    = "applied_index"
	LoadCheckpointIndex = "checkpoint_index"
)

// ClusterView answers the cluster's nodes, shards and endpoints.
func (s *Service) ClusterView() (Cluster, error) {
	c := Cluster{At: s.cfg.Now().UTC(), Nodes: []ClusterNode{}, Shards: []ClusterShard{}, Endpoints: []ClusterEndpoint{}}
	if cn, ok := s.cfg.Members.(ClusterNodes); ok {
		c.Nodes = append(c.Nodes, cn.ClusterNodes()...)
	}
	shards := map[int]*ClusterShard{}
	for _, n := range c.Nodes {
		if n.Role != "pageserver" || n.Health != "alive" {
			continue
		}
		id := 0
		if v, ok := n.Load[LoadShard]; ok {
			id = int(v)
		}
		sh := shards[id]
		if sh == nil {
			sh = &ClusterShard{ID: id, PageServers: []string{}}
			shards[id] = sh
		}
		sh.PageServers = append(sh.PageServers, n.ID)
		sh.AppliedIndex = max(sh.AppliedIndex, uint64(n.Load[LoadAppliedIndex]))
		sh.CheckpointIndex = max(sh.CheckpointIndex, uint64(n.Load[LoadCheckpointIndex]))
	}
	for _, sh := range shards {
		c.Shards = append(c.Shards, *sh)
	}
	sort.Slice(c.Shards, func(i, j int) bool { return c.Shards[i].ID < c.Shards[j].ID })
	eps, err := s.Endpoints("", "")
	if err != nil {
		return Cluster{}, err
	}
	sc := s.getScaler()
	for _, ep := range eps {
		ce := ClusterEndpoint{ID: ep.ID, Name: ep.Name, Tenant: ep.Tenant, Database: ep.Database, Branch: ep.Branch,
			Mode: ep.Mode, MinComputes: ep.MinComputes, MaxComputes: ep.MaxComputes, ComputeIDs: []string{}}
		if sc != nil {
			for _, cp := range sc.Computes(ep.ID) {
				if cp.State != "draining" {
					ce.Computes++
				}
				if cp.State == "ready" {
					ce.Ready++
				}
				ce.ComputeIDs = append(ce.ComputeIDs, cp.ID+":"+cp.State)
			}
		}
		c.Endpoints = append(c.Endpoints, ce)
	}
	return c, nil
}

// registerClusterRoutes registers GET /v1/cluster.
func (s *Service) registerClusterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		c, err := s.ClusterView()
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, c)
	})
}

// ShardOfPrefix parses the shard number of a page server's object prefix
// "shards/<n>/"; -1 when it has another form.
func ShardOfPrefix(prefix string) int {
	const p = "shards/"
	if len(prefix) <= len(p) || prefix[:len(p)] != p {
		return -1
	}
	rest := prefix[len(p):]
	if len(rest) > 0 && rest[len(rest)-1] == '/' {
		rest = rest[:len(rest)-1]
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return -1
	}
	return n
}
