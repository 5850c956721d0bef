package pgwire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/xdg-go/scram"

	"github.com/phantom-db/phantom/compute/sql/sqlerr"
)

// ErrUnknownRole is what a SCRAMLookup wraps for a role that does not
// exist; any other lookup error means the credentials could not be checked.
var ErrUnknownRole = errors.New("pgwire: unknown role")

// SQLSTATEs of authentication failures.
const (
	codeInvalidPassword      = "28P01"
	codeInvalidAuthorization = "28000"
)

// scramMechanism is the one SASL mechanism offered. SCRAM-SHA-256-PLUS
// (channel binding) is not: clients that support it send the "y" flag and
// the exchange stays safe against downgrade.
const scramMechanism = "SCRAM-SHA-256"

// startTLS answers an SSLRequest with 'S' and runs the TLS handshake; the
// startup continues encrypted. False when the handshake fails.
func (c *conn) startTLS() bool {
	if _, err := c.nc.Write([]byte{'S'}); err != nil {
		return false
	}
	tc := tls.Server(c.nc, c.srv.cfg.TLS)
	if err := tc.Handshake(); err != nil {
		c.log.Debug("pgwire: TLS handshake failed", "err", err)
		return false
	}
	c.nc, c.tls = tc, true
	c.be = pgproto3.NewBackend(tc, tc)
	c.be.SetMaxBodyLen(c.srv.cfg.MaxMessageBytes)
	return true
}

// authenticateSCRAM runs a SCRAM-SHA-256 exchange (RFC 5802, 7677) for
// role user. A wrong password and an unknown role fail alike, with 28P01
// after the client's proof: an unknown role gets a made-up verifier so the
// exchange reveals nothing about which roles exist.
func (c *conn) authenticateSCRAM(user string) bool {
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.cfg.StartupTimeout)
	defer cancel()
	var lookupErr error
	lookup := func(string) (scram.StoredCredentials, error) {
		// PostgreSQL clients leave the SCRAM user name empty and mean the
		// startup message's user, so the argument is ignored.
		creds, err := c.srv.cfg.SCRAM(ctx, user)
		if err == nil {
			return creds, nil
		}
		lookupErr = err
		if errors.Is(err, ErrUnknownRole) {
			return fakeCredentials(), nil
		}
		return scram.StoredCredentials{}, err
	}
	server, err := scram.SHA256.NewServer(lookup)
	if err != nil {
		c.fatal(sqlerr.New(sqlerr.CodeInternalError, "scram: %v", err))
		return false
	}
	conv := server.NewConversation()
	fail := func(reason string, args ...any) bool {
		if lookupErr != nil && !errors.Is(lookupErr, ErrUnknownRole) {
			c.log.Error("pgwire: cannot look up role", "err", lookupErr)
			c.fatal(&sqlerr.Error{Code: codeInvalidAuthorization, Message: "cannot verify credentials now; try again later"})
			return false
		}
		c.log.Info("pgwire: authentication failed", "reason", fmt.Sprintf(reason, args...), "unknown_role", lookupErr != nil)
		c.fatal(&sqlerr.Error{Code: codeInvalidPassword, Message: fmt.Sprintf("password authentication failed for user %q", user)})
		return false
	}

	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	if err := c.be.Flush(); err != nil {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeSASL)
	msg, err := c.be.Receive()
	if err != nil {
		return false
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		c.fatal(protocolError("expected SASLInitialResponse, got %T", msg))
		return false
	}
	if first.AuthMechanism != scramMechanism {
		c.fatal(protocolError("unsupported SASL mechanism %q", first.AuthMechanism))
		return false
	}
	serverFirst, err := conv.Step(string(first.Data))
	if err != nil {
		return fail("client-first: %v", err)
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := c.be.Flush(); err != nil {
		return false
	}
	_ = c.be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	msg, err = c.be.Receive()
	if err != nil {
		return false
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		c.fatal(protocolError("expected SASLResponse, got %T", msg))
		return false
	}
	serverFinal, err := conv.Step(string(final.Data))
	if err != nil || !conv.Valid() || lookupErr != nil {
		return fail("client-final: %v", err)
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(serverFinal)})
	return true
}

// fakeCredentials is a verifier no password matches.
func fakeCredentials() scram.StoredCredentials {
	var salt [16]byte
	stored, srv := make([]byte, 32), make([]byte, 32)
	_, _ = rand.Read(salt[:])
	_, _ = rand.Read(stored)
	_, _ = rand.Read(srv)
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt[:]), Iters: 4096}, StoredKey: stored, ServerKey: srv}
}
