package httpapi

import (
	"bufio"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/phantom-db/phantom/compute/sql"
	"github.com/phantom-db/phantom/compute/sql/types"
)

// Media types a client may ask for with Accept.
const (
	// MediaJSON answers one JSON object (the default).
	MediaJSON = "application/json"
	// MediaNDJSON streams a header line {"columns"}, one JSON array per row,
	// and a trailer line {"command","row_count","timing"}.
	MediaNDJSON = "application/x-ndjson"
	// MediaArrow answers an Arrow IPC stream of the result's record batches;
	// the command tag and row count travel in the Phantom-Command and
	// Phantom-Row-Count headers.
	MediaArrow = "application/vnd.apache.arrow.stream"
)

// negotiate picks the answer's media type from the Accept header.
func negotiate(accept string) string {
	for _, part := range strings.Split(accept, ",") {
		mt := strings.TrimSpace(strings.SplitN(part, ";", 2)[0])
		switch mt {
		case MediaNDJSON, MediaArrow, MediaJSON:
			return mt
		}
	}
	return MediaJSON
}

// writeResult answers res (nil for an empty query) in the negotiated format.
func (s *Server) writeResult(w http.ResponseWriter, r *http.Request, res *sql.Result, start time.Time) {
	if res == nil {
		res = &sql.Result{}
	}
	switch negotiate(r.Header.Get("Accept")) {
	case MediaNDJSON:
		writeNDJSON(w, res, start)
	case MediaArrow:
		s.writeArrow(w, res)
	default:
		resp := jsonResponse(res)
		resp.Timing.ElapsedMS = elapsedMS(start)
		writeJSON(w, http.StatusOK, resp)
	}
}

func jsonColumns(res *sql.Result) []Column {
	cols := make([]Column, 0, len(res.Columns))
	for _, c := range res.Columns {
		cols = append(cols, Column{Name: c.Name, Type: c.Type})
	}
	return cols
}

// jsonResponse turns a result into the JSON answer (without timing).
func jsonResponse(res *sql.Result) Response {
	resp := Response{Columns: jsonColumns(res), Rows: [][]any{}, Command: res.Command, RowCount: res.RowCount}
	for _, row := range res.Rows() {
		jsonSafeRow(row)
		resp.Rows = append(resp.Rows, row)
	}
	return resp
}

func writeNDJSON(w http.ResponseWriter, res *sql.Result, start time.Time) {
	w.Header().Set("Content-Type", MediaNDJSON)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	_ = enc.Encode(map[string]any{"columns": jsonColumns(res)})
	flusher, _ := w.(http.Flusher)
	for _, b := range res.Batches {
		one := sql.Result{Columns: res.Columns, Batches: []arrow.RecordBatch{b}, RowCount: b.NumRows()}
		for _, row := range one.Rows() {
			jsonSafeRow(row)
			if enc.Encode(row) != nil {
				return // the client went away
			}
		}
		if bw.Flush() != nil {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	_ = enc.Encode(map[string]any{"command": res.Command, "row_count": res.RowCount,
		"timing": Timing{ElapsedMS: elapsedMS(start)}})
	_ = bw.Flush()
}

// arrowType maps a result column type to its Arrow type.
func arrowType(t string) arrow.DataType {
	switch t {
	case "bool":
		return arrow.FixedWidthTypes.Boolean
	case "int4":
		return arrow.PrimitiveTypes.Int32
	case "int8":
		return arrow.PrimitiveTypes.Int64
	case "float8":
		return arrow.PrimitiveTypes.Float64
	default:
		return arrow.BinaryTypes.String
	}
}

func (s *Server) writeArrow(w http.ResponseWriter, res *sql.Result) {
	var schema *arrow.Schema
	if len(res.Batches) > 0 {
		schema = res.Batches[0].Schema()
	} else {
		fields := make([]arrow.Field, len(res.Columns))
		for i, c := range res.Columns {
			fields[i] = arrow.Field{Name: c.Name, Type: arrowType(c.Type), Nullable: true}
		}
		schema = arrow.NewSchema(fields, nil)
	}
	w.Header().Set("Content-Type", MediaArrow)
	w.Header().Set("Phantom-Command", res.Command)
	w.Header().Set("Phantom-Row-Count", strconv.FormatInt(res.RowCount, 10))
	w.WriteHeader(http.StatusOK)
	iw := ipc.NewWriter(w, ipc.WithSchema(schema))
	for _, b := range res.Batches {
		if err := iw.Write(b); err != nil {
			s.cfg.Logger.Debug("arrow answer cut short", "err", err)
			return
		}
	}
	if err := iw.Close(); err != nil {
		s.cfg.Logger.Debug("arrow answer cut short", "err", err)
	}
}

// jsonSafeRow turns values JSON cannot carry (NaN, ±Inf) into strings, as
// PostgreSQL prints them.
func jsonSafeRow(row []any) {
	for i, v := range row {
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			row[i] = types.FormatText(f)
		}
	}
}
