package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	controlplane "github.com/phantom-db/phantom/control-plane"
	"github.com/phantom-db/phantom/internal/natsbus"
)

// pageServers is the compute's view of the page servers of its shard: the
// --pageserver addresses, and, with --nats-url, every page server whose
// heartbeat announces the shard. It feeds a manual gRPC resolver, so the
// one ClientConn the KV uses fails over on its own: pick_first tries the
// addresses in order, and a page server the membership declares dead is
// dropped from the list. A replacement page server (started by the
// control plane with --pageserver-replace, or by an operator) is used as
// soon as its first heartbeat arrives.
type pageServers struct {
	res     *manual.Resolver
	static  []string
	shard   int
	log     *slog.Logger
	nc      *nats.Conn
	members *natsbus.Membership

	mu   sync.Mutex
	last []string
}

// pageResolverScheme names the manual resolver of the page server
// addresses.
const pageResolverScheme = "phantom-pages"

// newPageServers parses --pageserver (comma-separated addresses of the
// same shard) and, when natsURL is set, follows page server heartbeats.
func newPageServers(addrs, natsURL string, shard int, timeout time.Duration, log *slog.Logger) (*pageServers, error) {
	p := &pageServers{res: manual.NewBuilderWithScheme(pageResolverScheme), shard: shard, log: log}
	for _, a := range strings.Split(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			p.static = append(p.static, a)
		}
	}
	if len(p.static) == 0 {
		return nil, fmt.Errorf("--pageserver: no address in %q", addrs)
	}
	p.set(p.static)
	if natsURL == "" {
		return p, nil
	}
	nc, err := nats.Connect(natsURL, nats.Name("phantom-compute-pages"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", natsURL, err)
	}
	p.nc = nc
	m, err := natsbus.StartMembership(nc, natsbus.MembershipConfig{Timeout: timeout, CheckInterval: min(250*time.Millisecond, timeout),
		Logger: slog.New(slog.DiscardHandler), OnChange: func(natsbus.Event) { p.refresh() }})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("follow page server heartbeats: %w", err)
	}
	p.members = m
	return p, nil
}

// dialTarget is the target of grpc.NewClient, with dialOption.
func (p *pageServers) dialTarget() string { return pageResolverScheme + ":///pageservers" }

// dialOption installs the resolver.
func (p *pageServers) dialOption() grpc.DialOption { return grpc.WithResolvers(p.res) }

// refresh recomputes the address list from the membership: the
// --pageserver addresses first, in their order, except those the
// membership has declared dead, then the other alive page servers of the
// shard by address. When that leaves nothing, the --pageserver addresses.
func (p *pageServers) refresh() {
	var alive, dead []string
	for _, n := range p.members.Nodes() {
		if n.Role != natsbus.RolePageServer {
			continue
		}
		if v, ok := n.Load.Extra[controlplane.LoadShard]; ok && int(v) != p.shard {
			continue
		}
		if n.Alive {
			alive = append(alive, n.Address)
		} else {
			dead = append(dead, n.Address)
		}
	}
	var out []string
	for _, a := range p.static {
		if slices.Contains(alive, a) || !slices.Contains(dead, a) {
			out = append(out, a)
		}
	}
	slices.Sort(alive)
	for _, a := range alive {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = p.static
	}
	p.set(out)
}

func (p *pageServers) set(addrs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if slices.Equal(addrs, p.last) {
		return
	}
	if p.last != nil {
		p.log.Info("page server addresses changed", "from", p.last, "to", addrs)
	}
	p.last = slices.Clone(addrs)
	st := resolver.State{}
	for _, a := range addrs {
		st.Addresses = append(st.Addresses, resolver.Address{Addr: a})
	}
	p.res.UpdateState(st)
}

// Close stops following heartbeats.
func (p *pageServers) Close() {
	if p.members != nil {
		_ = p.members.Close()
	}
	if p.nc != nil {
		p.nc.Close()
	}
}
