// Package api is the Controller's northbound REST API under /api/v1: JSON
// over HTTP, described by the OpenAPI 3 document it serves at
// /api/v1/openapi.json, behind bearer tokens with the roles admin,
// operator and viewer, with Prometheus metrics at /metrics. Only /healthz
// answers without a token.
//
// Roles are checked per route and then, for every request sent to an
// Agent, per path: changing who controls an Agent, what it trusts, how it
// is reached, or rebooting and resetting it needs admin whatever route or
// path form (instance numbers, wildcards, search expressions) asks for it
// (DefaultPolicy, Options.Policy; docs/security.md).
//
//	tokens, path, err := api.LoadTokens(dataDir) // creates an admin token on first start
//	h := api.New(api.Options{Controller: c, Tokens: tokens})
//	http.ListenAndServe(addr, h)
package api
