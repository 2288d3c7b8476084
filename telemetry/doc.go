// Package telemetry is the Controller's side of Bulk Data collection: it
// takes the reports Agents send (TR-369 Annex A over HTTP(S), or
// Device.BulkData.Profile.{i}.Push! events over USP), stores their values
// as time series per Agent and parameter in SQLite or PostgreSQL, answers
// range queries with downsampling (avg, min, max, last), keeps the data
// for a maximum age, and writes the ingest figures in the Prometheus text
// format.
//
// The HTTP collector (Service.Collector) authenticates each Agent with
// HTTP Basic credentials: the user is the Agent's Endpoint ID (":" as
// "_") and the password is derived from the Controller's key (Credentials), so the
// Controller gives an Agent its password when it configures a profile
// and keeps no table of passwords.
//
//	db, _ := telemetry.OpenSQLite(ctx, "telemetry.db")
//	svc := telemetry.New(db, telemetry.NewCredentials(key), nil)
//	http.Handle("POST /bulkdata/{agent}", svc.Collector())
//	points, _ := svc.Query(ctx, telemetry.Query{Agent: id, Param: "UpTime", Step: time.Minute, Agg: "avg"})
package telemetry
