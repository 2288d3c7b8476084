// Package api is the Controller's northbound REST API under /api/v1: JSON
// over HTTP, described by the OpenAPI 3 document it serves at
// /api/v1/openapi.json, behind bearer tokens with the roles admin,
// operator and viewer, with Prometheus metrics at /metrics. Only /healthz
// answers without a token.
//
//	tokens, path, err := api.LoadTokens(dataDir) // creates an admin token on first start
//	h := api.New(api.Options{Controller: c, Tokens: tokens})
//	http.ListenAndServe(addr, h)
package api
