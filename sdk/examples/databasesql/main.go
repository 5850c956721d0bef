// Command databasesql uses Phantom-DB through database/sql.
//
//	phantom dev &
//	go run ./sdk/examples/databasesql -dsn 'phantom://127.0.0.1:8432/phantom?timeout=5s'
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"time"

	_ "github.com/phantom-db/phantom/sdk/phantomsql" // registers "phantom"
)

func main() {
	dsn := flag.String("dsn", "phantom://127.0.0.1:8432/phantom", "phantom://[key@]host:port/db?timeout=5s")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *dsn); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dsn string) error {
	db, err := sql.Open("phantom", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(8)
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS accounts (id INT PRIMARY KEY, owner TEXT, balance BIGINT)"); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM accounts"); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO accounts VALUES ($1, $2, $3), ($4, $5, $6)", 1, "ann", 100, 2, nil, 0); err != nil {
		return err
	}
	// A transfer in one serializable transaction.
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance - $1 WHERE id = $2", 25, 1); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET balance = balance + $1 WHERE id = $2", 25, 2); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err // a 40001 serialization failure means: run the transaction again
	}
	rows, err := db.QueryContext(ctx, "SELECT id, owner, balance FROM accounts ORDER BY id")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, balance int64
		var owner sql.NullString
		if err := rows.Scan(&id, &owner, &balance); err != nil {
			return err
		}
		fmt.Printf("%d %s %d\n", id, owner.String, balance)
	}
	return rows.Err()
}
