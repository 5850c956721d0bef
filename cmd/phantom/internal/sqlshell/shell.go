// Package sqlshell is the core of `phantom sql`: an interactive and
// scriptable SQL shell over the HTTP SQL API (docs/http-api.md), not the
// PostgreSQL protocol. It splits input into statements at semicolons, runs
// each in one server session (so BEGIN ... COMMIT spans lines), prints
// results as a table, CSV or JSON, and handles a few psql-style backslash
// commands.
package sqlshell

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

var (
	// ErrStatementFailed is returned by Run when a statement or command
	// failed and Config.StopOnError is set; the error was already printed.
	ErrStatementFailed = errors.New("sqlshell: statement failed")
	// ErrInterrupted is returned by a LineReader when the user pressed
	// Ctrl-C: the shell drops the statement being typed.
	ErrInterrupted = errors.New("sqlshell: interrupted")
	// ErrNoClient is returned by New when Config.Client is nil.
	ErrNoClient = errors.New("sqlshell: Config.Client is required")
)

// LineReader supplies input lines (without the newline); it returns io.EOF
// at the end of input and ErrInterrupted on Ctrl-C.
type LineReader interface {
	ReadLine(prompt string) (string, error)
}

// Config configures a Shell.
type Config struct {
	// Client runs the statements. Required.
	Client *Client
	// Out receives results. Default os.Stdout.
	Out io.Writer
	// Err receives errors and notices. Default os.Stderr.
	Err io.Writer
	// Format is the initial output format. Default FormatTable.
	Format Format
	// Timing prints each statement's round-trip time. Default off.
	Timing bool
	// StopOnError makes Run stop at the first failed statement and return
	// ErrStatementFailed (psql -v ON_ERROR_STOP=1); scripts and -c set it,
	// the interactive shell does not. Default false.
	StopOnError bool
	// Prompt is the name shown in the prompt. Default "phantom".
	Prompt string
	// Now is the clock used for \timing. Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills unset fields with their defaults.
func (c *Config) EnsureDefaults() {
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.Err == nil {
		c.Err = os.Stderr
	}
	if c.Format == "" {
		c.Format = FormatTable
	}
	if c.Prompt == "" {
		c.Prompt = "phantom"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if c.Client == nil {
		return ErrNoClient
	}
	if _, err := ParseFormat(string(c.Format)); err != nil {
		return err
	}
	return nil
}

// Shell reads statements and backslash commands and prints their results.
type Shell struct {
	cfg    Config
	format Format
	timing bool

	tx txState // as far as the command tags tell, for the prompt

	mu          sync.Mutex
	cancel      context.CancelFunc // of the statement in flight, or nil
	interrupted bool               // Interrupt cancelled that statement
}

// Interrupt cancels the statement in flight, if any (Ctrl-C while a query
// runs): its request is abandoned, the server cancels it, and Run goes on
// with the next input. It reports whether a statement was cancelled. It is
// safe to call from another goroutine (a signal handler).
func (s *Shell) Interrupt() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return false
	}
	s.cancel()
	s.interrupted = true
	return true
}

// startStatement derives the context of one statement, cancelled by
// Interrupt; done reports whether Interrupt fired.
func (s *Shell) startStatement(ctx context.Context) (context.Context, func() bool) {
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel, s.interrupted = cancel, false
	s.mu.Unlock()
	return ctx, func() bool {
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cancel = nil
		return s.interrupted
	}
}

// New returns a shell.
func New(cfg Config) (*Shell, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Shell{cfg: cfg, format: cfg.Format, timing: cfg.Timing}, nil
}

// txState is the session's transaction state as the shell tracks it from
// command tags and errors (the HTTP API does not report it): psql's
// prompt marks, "" idle, "*" in a transaction block, "!" in a failed one.
type txState string

const (
	txIdle    txState = ""
	txInBlock txState = "*"
	txFailed  txState = "!"
)

// prompt is psql's: name, '=' or '-' (continuation), the transaction mark,
// then "> ".
func (s *Shell) prompt(continuation bool) string {
	mark := "="
	if continuation {
		mark = "-"
	}
	return s.cfg.Prompt + mark + string(s.tx) + "> "
}

// track updates the transaction state after statement q answered tag or
// failed (tag "").
func (s *Shell) track(q, tag string, failed bool) {
	switch {
	case failed && isTxEnd(q):
		s.tx = txIdle // a failed COMMIT ends the block too
	case failed && s.tx != txIdle:
		s.tx = txFailed
	case tag == "BEGIN" || tag == "START TRANSACTION":
		if s.tx == txIdle {
			s.tx = txInBlock
		}
	case tag == "COMMIT" || tag == "ROLLBACK":
		s.tx = txIdle
	}
}

// isTxEnd reports whether q is COMMIT, END, ROLLBACK or ABORT.
func isTxEnd(q string) bool {
	f := strings.Fields(strings.ToUpper(q))
	if len(f) == 0 {
		return false
	}
	switch strings.TrimRight(f[0], ";") {
	case "COMMIT", "END", "ROLLBACK", "ABORT":
		return len(f) == 1 || f[1] != "TO" // not ROLLBACK TO SAVEPOINT
	}
	return false
}

// errQuit ends Run after \q.
var errQuit = errors.New("sqlshell: quit")

// Run reads lines until end of input or \q, running each statement as its
// terminating semicolon arrives; an unterminated statement left at end of
// input runs too. It returns nil, ErrStatementFailed (with StopOnError),
// or the reader's or context's error.
func (s *Shell) Run(ctx context.Context, r LineReader) error {
	pending := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		prompt := s.prompt(pending != "")
		line, err := r.ReadLine(prompt)
		switch {
		case errors.Is(err, ErrInterrupted):
			pending = ""
			continue
		case errors.Is(err, io.EOF):
			if HasContent(pending) {
				return s.stopping(s.runStatement(ctx, strings.TrimSpace(pending)))
			}
			return nil
		case err != nil:
			return fmt.Errorf("sqlshell: read input: %w", err)
		}
		if t := strings.TrimSpace(line); strings.HasPrefix(t, `\`) && !inQuotedTail(pending) {
			err := s.meta(ctx, t)
			if errors.Is(err, errQuit) {
				return nil
			}
			if err := s.stopping(err); err != nil {
				return err
			}
			continue
		}
		stmts, rest := Split(pending + line + "\n")
		pending = rest
		if strings.TrimSpace(pending) == "" {
			pending = ""
		}
		for _, q := range stmts {
			if err := s.stopping(s.runStatement(ctx, q)); err != nil {
				return err
			}
		}
	}
}

// inQuotedTail reports whether pending ends inside a string, identifier,
// comment or dollar quote, where a line starting with \ is data.
func inQuotedTail(pending string) bool {
	if pending == "" {
		return false
	}
	_, rest := Split(pending + ";")
	return rest != ""
}

// stopping prints a failure not reported yet (a failed write of results),
// then turns it into ErrStatementFailed when the shell stops on errors and
// swallows it otherwise.
func (s *Shell) stopping(failed error) error {
	if failed == nil {
		return nil
	}
	if !errors.Is(failed, errPrinted) {
		fmt.Fprintf(s.cfg.Err, "ERROR:  %v\n", failed)
	}
	if s.cfg.StopOnError {
		return ErrStatementFailed
	}
	return nil
}

// errPrinted marks a failure that has been reported to the user.
var errPrinted = errors.New("sqlshell: failure printed")

// runStatement sends one statement and prints its result or error.
func (s *Shell) runStatement(ctx context.Context, q string) error {
	start := s.cfg.Now()
	qctx, done := s.startStatement(ctx)
	res, err := s.cfg.Client.Query(qctx, q)
	interrupted := done()
	elapsed := s.cfg.Now().Sub(start)
	if err != nil && interrupted {
		s.track(q, "", true)
		fmt.Fprintln(s.cfg.Err, "ERROR:  canceling statement due to user request (SQLSTATE 57014)")
		return errPrinted
	}
	if err != nil {
		s.track(q, "", true)
		s.printError(q, err)
		var apiErr *Error
		if errors.As(err, &apiErr) && apiErr.Code == "08003" && s.cfg.Client.InSession() {
			s.tx = txIdle
			s.reopen(ctx)
		}
		return errPrinted
	}
	s.track(q, res.Command, false)
	if err := WriteResult(s.cfg.Out, s.format, res); err != nil {
		return fmt.Errorf("sqlshell: write result: %w", err)
	}
	if s.timing {
		fmt.Fprintf(s.cfg.Out, "Time: %.3f ms\n", float64(elapsed.Microseconds())/1000)
	}
	return nil
}

// reopen replaces a session the server closed (idle timeout).
func (s *Shell) reopen(ctx context.Context) {
	_ = s.cfg.Client.Close(ctx)
	if err := s.cfg.Client.OpenSession(ctx); err != nil {
		fmt.Fprintf(s.cfg.Err, "could not open a new session: %v\n", err)
		return
	}
	fmt.Fprintln(s.cfg.Err, "NOTICE:  the session had expired; opened a new one (an open transaction was rolled back)")
}

// printError prints err like psql: ERROR, then for a known position the
// line holding it and a caret under the character, then DETAIL and HINT.
func (s *Shell) printError(q string, err error) {
	var e *Error
	if !errors.As(err, &e) {
		fmt.Fprintf(s.cfg.Err, "ERROR:  %v\n", err)
		return
	}
	fmt.Fprintf(s.cfg.Err, "ERROR:  %s (SQLSTATE %s)\n", e.Message, e.Code)
	if e.Position > 0 {
		if n, text, col, ok := locate(q, e.Position); ok {
			prefix := fmt.Sprintf("LINE %d: ", n)
			pad := make([]rune, 0, len(prefix)+col)
			for range prefix {
				pad = append(pad, ' ')
			}
			for _, r := range []rune(text)[:col] {
				if r == '\t' {
					pad = append(pad, '\t')
				} else {
					pad = append(pad, ' ')
				}
			}
			fmt.Fprintf(s.cfg.Err, "%s%s\n%s^\n", prefix, text, string(pad))
		}
	}
	if e.Detail != "" {
		fmt.Fprintf(s.cfg.Err, "DETAIL:  %s\n", e.Detail)
	}
	if e.Hint != "" {
		fmt.Fprintf(s.cfg.Err, "HINT:  %s\n", e.Hint)
	}
}

// locate finds the 1-based character position pos in q: its 1-based line
// number, that line's text and the 0-based column (in characters).
func locate(q string, pos int) (line int, text string, col int, ok bool) {
	rs := []rune(q)
	p := pos - 1
	if p < 0 || p > len(rs) {
		return 0, "", 0, false
	}
	ls := p
	for ls > 0 && rs[ls-1] != '\n' {
		ls--
	}
	le := p
	for le < len(rs) && rs[le] != '\n' {
		le++
	}
	line = 1
	for _, r := range rs[:ls] {
		if r == '\n' {
			line++
		}
	}
	return line, string(rs[ls:le]), p - ls, true
}

// PlainReader reads lines from r without prompting: scripts, pipes, -c.
type PlainReader struct {
	sc *bufio.Scanner
}

// NewPlainReader returns a LineReader over r.
func NewPlainReader(r io.Reader) *PlainReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	return &PlainReader{sc: sc}
}

// ReadLine returns the next line, or io.EOF.
func (p *PlainReader) ReadLine(string) (string, error) {
	if p.sc.Scan() {
		return strings.TrimSuffix(p.sc.Text(), "\r"), nil
	}
	if err := p.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

// Exec runs text (statements and backslash commands, like a -c argument or
// a script file) as non-interactive input.
func (s *Shell) Exec(ctx context.Context, text string) error {
	return s.Run(ctx, NewPlainReader(strings.NewReader(text)))
}
