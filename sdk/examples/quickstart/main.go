// Command quickstart uses the phantom HTTP client: a table, a batch, a
// session transaction, typed rows and an Arrow result.
//
//	phantom dev &   # serves the HTTP API on 127.0.0.1:8432
//	go run ./sdk/examples/quickstart -url http://127.0.0.1:8432
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"github.com/phantom-db/phantom/sdk/phantom"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8432", "HTTP SQL API address")
	key := flag.String("key", "", "API key (sent as a bearer token)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *url, *key); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url, key string) error {
	c, err := phantom.New(url, phantom.WithAPIKey(key))
	if err != nil {
		return err
	}
	if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS quickstart (id INT PRIMARY KEY, title TEXT, rating DOUBLE PRECISION)"); err != nil {
		return err
	}
	// All or nothing.
	if _, err := c.Batch(ctx, []phantom.Statement{
		{Query: "DELETE FROM quickstart"},
		{Query: "INSERT INTO quickstart VALUES ($1, $2, $3)", Args: []any{1, "Heat", 8.3}},
		{Query: "INSERT INTO quickstart VALUES ($1, $2, $3)", Args: []any{2, "Up", nil}},
	}); err != nil {
		return err
	}
	// An interactive transaction in a session.
	sess, err := c.OpenSession(ctx)
	if err != nil {
		return err
	}
	defer sess.Close(ctx)
	for _, q := range []string{"BEGIN", "UPDATE quickstart SET rating = 8.9 WHERE id = 2", "COMMIT"} {
		if _, err := sess.Exec(ctx, q); err != nil {
			return err
		}
	}
	res, err := c.Query(ctx, "SELECT id, title, rating FROM quickstart WHERE id >= $1 ORDER BY id", 1)
	if err != nil {
		return err
	}
	for _, row := range res.Rows {
		id, title := row[0].(int64), row[1].(string)
		fmt.Printf("%d %s %v\n", id, title, row[2]) // row[2] is a float64 or nil
	}
	st, err := c.QueryArrow(ctx, "SELECT id, title FROM quickstart")
	if err != nil {
		return err
	}
	defer st.Close()
	for st.Next() {
		fmt.Printf("arrow batch: %d rows, schema %s\n", st.RecordBatch().NumRows(), st.Schema())
	}
	if _, err := c.Query(ctx, "SELEC 1"); err != nil {
		fmt.Printf("SQLSTATE %s: %v\n", phantom.Code(err), err)
	}
	return st.Err()
}
