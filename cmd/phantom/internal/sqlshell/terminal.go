package sqlshell

import (
	"errors"
	"fmt"
	"sync"

	"github.com/chzyer/readline"
)

// TerminalReader reads lines from a terminal with line editing and a
// history file (chzyer/readline).
type TerminalReader struct {
	rl    *readline.Instance
	close sync.Once
	err   error
}

// NewTerminalReader returns a LineReader on the process's terminal that
// keeps history in historyFile ("" for none).
func NewTerminalReader(historyFile string) (*TerminalReader, error) {
	rl, err := readline.NewEx(&readline.Config{
		HistoryFile:       historyFile,
		HistorySearchFold: true,
		InterruptPrompt:   "^C",
	})
	if err != nil {
		return nil, fmt.Errorf("sqlshell: open terminal: %w", err)
	}
	return &TerminalReader{rl: rl}, nil
}

// ReadLine prompts and returns the edited line, io.EOF on Ctrl-D at an
// empty line, or ErrInterrupted on Ctrl-C.
func (t *TerminalReader) ReadLine(prompt string) (string, error) {
	t.rl.SetPrompt(prompt)
	line, err := t.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", ErrInterrupted
	}
	return line, err
}

// Close restores the terminal and flushes the history; a ReadLine blocked
// in another goroutine returns. Calls after the first do nothing.
func (t *TerminalReader) Close() error {
	t.close.Do(func() { t.err = t.rl.Close() })
	return t.err
}

// Restore takes the terminal out of raw mode without waiting for a blocked
// ReadLine (Close waits for it): for a process about to exit on a signal.
func (t *TerminalReader) Restore() error { return t.rl.Terminal.ExitRawMode() }

// IsTerminal reports whether the file descriptor fd is a terminal.
func IsTerminal(fd uintptr) bool { return readline.IsTerminal(int(fd)) }
