package sqlshell

import (
	"context"
	"fmt"
	"strings"
)

// helpText answers \?.
const helpText = `General
  \q                 quit
  \?                 this help
Formatting
  \format [table|csv|json]  show or set the output format
  \timing [on|off]   toggle (or set) printing each statement's time
Informational
  \d [NAME]          list tables, views and sequences, or describe NAME
  \dt \di \dv \ds    list tables, indexes, views, sequences
SQL
  Statements end with ';' and may span lines; they run in one server
  session, so BEGIN ... COMMIT works across lines.
`

// meta runs one backslash command line. It returns errQuit for \q and
// errPrinted after printing a failure.
func (s *Shell) meta(ctx context.Context, line string) error {
	fields := strings.Fields(line)
	cmd, args := fields[0], fields[1:]
	switch cmd {
	case `\q`, `\quit`:
		return errQuit
	case `\?`, `\h`, `\help`:
		fmt.Fprint(s.cfg.Out, helpText)
	case `\timing`:
		switch {
		case len(args) == 0:
			s.timing = !s.timing
		case args[0] == "on":
			s.timing = true
		case args[0] == "off":
			s.timing = false
		default:
			fmt.Fprintf(s.cfg.Err, "\\timing: unrecognized value %q: want on or off\n", args[0])
			return errPrinted
		}
		if s.timing {
			fmt.Fprintln(s.cfg.Out, "Timing is on.")
		} else {
			fmt.Fprintln(s.cfg.Out, "Timing is off.")
		}
	case `\format`:
		if len(args) > 0 {
			f, err := ParseFormat(args[0])
			if err != nil {
				fmt.Fprintf(s.cfg.Err, "\\format: unknown format %q: want table, csv or json\n", args[0])
				return errPrinted
			}
			s.format = f
		}
		fmt.Fprintf(s.cfg.Out, "Output format is %s.\n", s.format)
	case `\d`, `\dt`, `\di`, `\dv`, `\ds`, `\d+`, `\dt+`, `\di+`, `\dv+`, `\ds+`:
		return s.describe(ctx, cmd, args)
	default:
		fmt.Fprintf(s.cfg.Err, "invalid command %s; try \\? for help.\n", cmd)
		return errPrinted
	}
	return nil
}
