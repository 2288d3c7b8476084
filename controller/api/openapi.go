package api

import (
	"maps"
	"net/http"
	"reflect"
	"strings"
)

// openAPI serves the OpenAPI 3 document, built from the routes and the
// request body types so that it cannot drift from the handlers.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Document())
}

// Document returns the OpenAPI 3.0 document of the API.
func (s *Server) Document() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.summary,
			"description": "Needs a bearer token with role " + string(rt.role) + " or higher.",
			"security":    []any{map[string]any{"bearer": []any{}}},
			"responses":   responses(rt),
		}
		var params []any
		if strings.Contains(rt.path, "{id}") {
			params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "description": idOf(rt.path), "schema": map[string]any{"type": "string"}})
		}
		if rt.body != "" {
			op["requestBody"] = map[string]any{"required": rt.body != "", "content": map[string]any{"application/json": map[string]any{
				"schema": map[string]any{"$ref": "#/components/schemas/" + rt.body}}}}
			params = append(params, map[string]any{"name": "timeout", "in": "query", "description": "how long to wait for the agent (Go duration)", "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	paths["/healthz"] = map[string]any{"get": map[string]any{"summary": "Liveness, without authentication", "responses": map[string]any{"200": map[string]any{"description": "ok"}}}}
	schemas := map[string]any{"Msg": map[string]any{"type": "object", "description": "a USP Msg in protobuf JSON (usp-msg-1-3.proto)"}}
	schemas["CampaignBody"], schemas["ResumeBody"] = schemaOf(reflect.TypeOf(CampaignBody{})), schemaOf(reflect.TypeOf(ResumeBody{}))
	maps.Copy(schemas, fleetSchemas())
	maps.Copy(schemas, e2eSchemas())
	for name, v := range map[string]any{"GetBody": GetBody{}, "SetBody": SetBody{}, "AddBody": AddBody{}, "DeleteBody": DeleteBody{},
		"OperateBody": OperateBody{}, "InstancesBody": InstancesBody{}, "SupportedBody": SupportedBody{}, "SubscriptionBody": SubscriptionBody{}, "AccountBody": AccountBody{}, "BulkDataBody": BulkDataBody{}} {
		schemas[name] = schemaOf(reflect.TypeOf(v))
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": "uspkit Controller API", "version": "1"},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
			"schemas":         schemas,
		},
	}
}

func responses(rt route) map[string]any {
	r := map[string]any{"200": map[string]any{"description": "success"}, "401": map[string]any{"description": "no valid token"},
		"403": map[string]any{"description": "role not allowed"}}
	if strings.Contains(rt.path, "{id}") {
		r["404"] = map[string]any{"description": "unknown agent"}
	}
	if strings.HasPrefix(rt.path, "/api/v1/accounts") {
		r["501"] = map[string]any{"description": "no embedded MQTT broker"}
	}
	if rt.body == "SubscriptionBody" || rt.body == "AccountBody" {
		r["201"] = map[string]any{"description": "added"}
		r["400"] = map[string]any{"description": "bad request body"}
		return r
	}
	if rt.body != "" {
		r["200"] = map[string]any{"description": "the agent's response Msg, in protobuf JSON", "content": map[string]any{"application/json": map[string]any{
			"schema": map[string]any{"$ref": "#/components/schemas/Msg"}}}}
		r["202"] = map[string]any{"description": "agent offline: request queued"}
		r["400"] = map[string]any{"description": "bad request body"}
		r["422"] = map[string]any{"description": "the agent answered with a USP Error (code, message)"}
		r["504"] = map[string]any{"description": "no response in time"}
		r["413"] = map[string]any{"description": "the request body, or the USP Record it makes, is larger than the API or the agent's MTP takes; nothing was sent"}
	}
	if rt.method == "DELETE" {
		r["204"] = map[string]any{"description": "deleted"}
		delete(r, "200")
	}
	return r
}

// schemaOf describes a request body struct from its json tags.
func schemaOf(t reflect.Type) map[string]any {
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Uint32, reflect.Int, reflect.Int64, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" && f.Anonymous {
				if sub, ok := schemaOf(f.Type)["properties"].(map[string]any); ok {
					maps.Copy(props, sub)
				}
				continue
			}
			if name == "" || name == "-" {
				continue
			}
			props[name] = schemaOf(f.Type)
		}
		return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	}
	return map[string]any{}
}
