package postgres_test

import (
	"context"
	"fmt"
	"log"

	"github.com/uspkit/uspkit/store"
	"github.com/uspkit/uspkit/store/postgres"
)

// These examples need a PostgreSQL server, so they have no output to
// check and go test only compiles them; the tests start a server of
// their own.

func ExampleOpen() {
	ctx := context.Background()
	// A URL or keyword/value pairs; pool_max_conns and the like are
	// pgxpool's, and other names set PostgreSQL's run-time parameters,
	// here the schema.
	db, err := postgres.Open(ctx, "postgres://usp@localhost:5432/usp?sslmode=verify-full&pool_max_conns=8&search_path=uspkit")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}

func ExampleDB_Apply() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, "host=/run/postgresql dbname=usp")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	// Replace subscription 2 by subscription 3, all or nothing.
	err = db.Apply(ctx, &store.Batch{
		Delete:   []string{"Device.LocalAgent.Subscription.2."},
		Put:      []store.Object{{Path: "Device.LocalAgent.Subscription.3.", Params: map[string]string{"Enable": "true"}}},
		Counters: map[string]uint32{"Device.LocalAgent.Subscription.": 3},
	})
	if err != nil {
		log.Fatal(err)
	}
}

func ExampleDB_Load() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, "host=/run/postgresql dbname=usp")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	snap, err := db.Load(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range snap.Objects {
		fmt.Println(o.Path, o.Params)
	}
	fmt.Println("next subscription:", snap.Counters["Device.LocalAgent.Subscription."]+1)
}
