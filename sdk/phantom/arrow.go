package phantom

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// ArrowStream is a result read as an Arrow IPC stream: it is an
// array.RecordReader (Schema, Next, RecordBatch, Err) over the HTTP body.
// Close it when done; batches are valid until the next Next or Close
// (Retain those you keep).
type ArrowStream struct {
	*ipc.Reader
	// Command is the command tag (Phantom-Command header).
	Command string
	// RowCount is the row count (Phantom-Row-Count header).
	RowCount int64

	body io.ReadCloser
	once sync.Once
}

// Close releases the reader and closes the HTTP body.
func (s *ArrowStream) Close() error {
	var err error
	s.once.Do(func() {
		s.Reader.Release()
		err = s.body.Close()
	})
	return err
}

// QueryArrow runs sql and answers its rows as an Arrow IPC stream
// (Accept: application/vnd.apache.arrow.stream). Columns map to Arrow types
// bool -> Boolean, int4 -> Int32, int8 -> Int64, float8 -> Float64,
// text -> String; every field is nullable.
func (c *Client) QueryArrow(ctx context.Context, sql string, args ...any) (*ArrowStream, error) {
	return c.queryArrow(ctx, "", sql, args)
}

func (c *Client) queryArrow(ctx context.Context, session, sql string, args []any) (*ArrowStream, error) {
	req, err := c.newSQLRequest(session, sql, args)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, http.MethodPost, "/v1/sql", req, mediaArrow, retryModeFor(session))
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); ct != mediaArrow {
		resp.Body.Close()
		return nil, fmt.Errorf("phantom: arrow query: the server answered %q", ct)
	}
	rd, err := ipc.NewReader(resp.Body)
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("phantom: arrow query: %w", err)
	}
	n, _ := strconv.ParseInt(resp.Header.Get("Phantom-Row-Count"), 10, 64)
	return &ArrowStream{Reader: rd, Command: resp.Header.Get("Phantom-Command"), RowCount: n, body: resp.Body}, nil
}
