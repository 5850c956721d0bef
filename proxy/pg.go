package proxy

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	controlplane "github.com/phantom-db/phantom/control-plane"
)

// startupTimeout bounds the time from accept to a complete startup message.
const startupTimeout = 10 * time.Second

// ServePG accepts PostgreSQL connections on ln until Close.
func (p *Proxy) ServePG(ln net.Listener) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	p.lis[ln] = struct{}{}
	p.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			p.mu.Lock()
			closed := p.closed
			delete(p.lis, ln)
			p.mu.Unlock()
			if closed {
				return net.ErrClosed
			}
			return fmt.Errorf("proxy: accept: %w", err)
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.servePGConn(nc)
		}()
	}
}

// pgFatal sends a FATAL ErrorResponse and closes the connection.
func pgFatal(nc net.Conn, be *pgproto3.Backend, code, msg string) {
	be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg})
	_ = be.Flush()
	nc.Close()
}

func (p *Proxy) servePGConn(nc net.Conn) {
	pgAccepted.Inc()
	pgConnections.Inc()
	defer pgConnections.Dec()
	p.mu.Lock()
	p.conns[nc] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, nc)
		p.mu.Unlock()
	}()
	be := pgproto3.NewBackend(nc, nc)
	_ = nc.SetDeadline(time.Now().Add(startupTimeout))
	var startup *pgproto3.StartupMessage
	for startup == nil {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			nc.Close()
			return
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			// No TLS at the proxy yet: the client continues in plain text
			// (or gives up if it requires TLS).
			if _, err := nc.Write([]byte{'N'}); err != nil {
				nc.Close()
				return
			}
		case *pgproto3.CancelRequest:
			p.forwardCancel(m)
			nc.Close()
			return
		case *pgproto3.StartupMessage:
			startup = m
		default:
			pgFatal(nc, be, "08P01", fmt.Sprintf("unexpected startup message %T", msg))
			return
		}
	}
	_ = nc.SetDeadline(time.Time{})
	t, params := p.pgTarget(startup.Parameters)
	startup.Parameters = params

	ctx := context.Background()
	var (
		server  net.Conn
		c       controlplane.Compute
		release func()
	)
	for attempt := 0; ; attempt++ {
		var err error
		c, release, err = p.pick(ctx, t)
		if err != nil {
			switch {
			case errors.Is(err, ErrUnknown):
				pgFatal(nc, be, "3D000", err.Error())
			case errors.Is(err, ErrNotReady), errors.Is(err, context.DeadlineExceeded):
				pgFatal(nc, be, "57P03", err.Error())
			default:
				pgFatal(nc, be, "08006", err.Error())
			}
			return
		}
		if c.PGAddr == "" {
			release()
			pgFatal(nc, be, "08006", "compute "+c.ID+" does not serve the PostgreSQL protocol")
			return
		}
		server, err = net.DialTimeout("tcp", c.PGAddr, p.cfg.DialTimeout)
		if err == nil {
			break
		}
		release()
		p.markUnreachable(c)
		if attempt >= 3 {
			pgFatal(nc, be, "08006", fmt.Sprintf("compute %s unreachable: %v", c.ID, err))
			return
		}
	}
	defer release()
	b, err := startup.Encode(nil)
	if err == nil {
		_, err = server.Write(b)
	}
	if err != nil {
		server.Close()
		pgFatal(nc, be, "08006", "forward startup: "+err.Error())
		return
	}
	setBranch := ""
	if t.Branch != controlplane.DefaultBranch {
		setBranch = t.Branch
	}
	p.splice(nc, server, c, setBranch)
}

// pgTarget reads the target from startup parameters and answers the
// parameters to forward.
func (p *Proxy) pgTarget(in map[string]string) (Target, map[string]string) {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	var t Target
	db := in["database"]
	if db == "" {
		db = in["user"]
	}
	t.Database = db
	if opts, ok := in["options"]; ok {
		keep, set := parseOptions(opts)
		t.Tenant, t.Branch, t.Endpoint = set["phantom.tenant"], set["phantom.branch"], set["phantom.endpoint"]
		if keep == "" {
			delete(out, "options")
		} else {
			out["options"] = keep
		}
	}
	t = p.fill(t)
	if name, _, ok := strings.Cut(db, "@"); ok {
		out["database"] = name
	}
	return t, out
}

// parseOptions splits a startup "options" value into the phantom.* settings
// ("-c name=value" or "--name=value") and the rest, which is forwarded.
func parseOptions(opts string) (keep string, set map[string]string) {
	set = map[string]string{}
	fields := strings.Fields(opts)
	var rest []string
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		var kv string
		switch {
		case f == "-c" && i+1 < len(fields):
			kv = fields[i+1]
			if strings.HasPrefix(kv, "phantom.") {
				i++
			} else {
				kv = ""
			}
		case strings.HasPrefix(f, "-cphantom."):
			kv = f[2:]
		case strings.HasPrefix(f, "--phantom."):
			kv = f[2:]
		}
		if k, v, ok := strings.Cut(kv, "="); ok && kv != "" {
			set[k] = v
			continue
		}
		rest = append(rest, f)
	}
	return strings.Join(rest, " "), set
}

// splice copies bytes both ways until either side closes. On the way back
// it reads the compute's messages up to the first ReadyForQuery to record
// the cancel key. With branch set (the client asked for "db@branch" or
// -c phantom.branch), it runs SET phantom.branch on the new session before
// passing that ReadyForQuery on, so the client's first statement already
// runs on the branch; an error of the SET (an unknown branch) reaches the
// client and ends the connection.
func (p *Proxy) splice(client, server net.Conn, c controlplane.Compute, branch string) {
	var key *cancelKey
	defer func() {
		if key != nil {
			p.mu.Lock()
			delete(p.cancels, *key)
			p.mu.Unlock()
		}
	}()
	var once sync.Once
	closeBoth := func() { once.Do(func() { client.Close(); server.Close() }) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(server, client)
		closeBoth()
	}()
	// Startup phase: message by message until ReadyForQuery.
	hdr := make([]byte, 5)
	for {
		if _, err := io.ReadFull(server, hdr); err != nil {
			closeBoth()
			<-done
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
		if n < 0 || n > 1<<20 {
			closeBoth()
			<-done
			return
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(server, body); err != nil {
			closeBoth()
			<-done
			return
		}
		if hdr[0] == 'K' && n >= 8 {
			k := cancelKey{pid: binary.BigEndian.Uint32(body[:4]), secret: string(body[4:])}
			p.mu.Lock()
			p.cancels[k] = c.PGAddr
			p.mu.Unlock()
			key = &k
		}
		if hdr[0] == 'Z' && branch != "" {
			if err := setBranch(client, server, branch); err != nil {
				closeBoth()
				<-done
				return
			}
		}
		if _, err := client.Write(append(hdr, body...)); err != nil {
			closeBoth()
			<-done
			return
		}
		hdr = hdr[:5]
		if hdr[0] == 'Z' || hdr[0] == 'E' {
			break
		}
	}
	_, _ = io.Copy(client, server)
	closeBoth()
	<-done
}

// forwardCancel sends a CancelRequest to the compute holding the key.
func (p *Proxy) forwardCancel(m *pgproto3.CancelRequest) {
	p.mu.Lock()
	addr, ok := p.cancels[cancelKey{pid: m.ProcessID, secret: string(m.SecretKey)}]
	p.mu.Unlock()
	if !ok {
		return
	}
	conn, err := net.DialTimeout("tcp", addr, p.cfg.DialTimeout)
	if err != nil {
		return
	}
	defer conn.Close()
	if b, err := m.Encode(nil); err == nil {
		_, _ = conn.Write(b)
	}
}

// setBranch runs SET phantom.branch = branch on a compute session that
// just became ready, swallowing the answer up to its ReadyForQuery. An
// ErrorResponse is passed to the client as FATAL and answers an error.
func setBranch(client, server net.Conn, branch string) error {
	q := &pgproto3.Query{String: "SET phantom.branch = '" + strings.ReplaceAll(branch, "'", "''") + "'"}
	b, err := q.Encode(nil)
	if err != nil {
		return err
	}
	if _, err := server.Write(b); err != nil {
		return err
	}
	var failed []byte
	hdr := make([]byte, 5)
	for {
		if _, err := io.ReadFull(server, hdr); err != nil {
			return err
		}
		n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
		if n < 0 || n > 1<<20 {
			return fmt.Errorf("proxy: bad message length %d", n)
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(server, body); err != nil {
			return err
		}
		switch hdr[0] {
		case 'E':
			failed = append(append([]byte(nil), hdr...), body...)
		case 'Z':
			if failed == nil {
				return nil
			}
			var e pgproto3.ErrorResponse
			if err := e.Decode(failed[5:]); err != nil {
				return err
			}
			e.Severity, e.SeverityUnlocalized = "FATAL", "FATAL"
			if out, err := e.Encode(nil); err == nil {
				_, _ = client.Write(out)
			}
			return fmt.Errorf("proxy: SET phantom.branch: %s", e.Message)
		}
	}
}
