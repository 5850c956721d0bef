package sqlshell

import (
	"errors"
	"fmt"

	"github.com/chzyer/readline"
)

// TerminalReader reads lines from a terminal with line editing and a
// history file (chzyer/readline).
type TerminalReader struct {
	rl *readline.Instance
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

// Close restores the terminal and flushes the history.
func (t *TerminalReader) Close() error { return t.rl.Close() }

// IsTerminal reports whether the file descriptor fd is a terminal.
func IsTerminal(fd uintptr) bool { return readline.IsTerminal(int(fd)) }
