package mtp

import "context"

// retainKey is the context key of WithRetain.
type retainKey struct{}

// WithRetain returns a copy of ctx that asks Send to have the MTP keep
// the Record for the peers that subscribe later: an MQTT PUBLISH with
// RETAIN = 1 (TR-181 Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.
// PublishRetainResponse and PublishRetainNotify). MTPs without such a
// notion ignore it, and an MQTT 5.0 server whose CONNACK said Retain
// Available = 0 gets the Record with RETAIN = 0.
func WithRetain(ctx context.Context, retain bool) context.Context {
	return context.WithValue(ctx, retainKey{}, retain)
}

// Retain reports whether ctx asks Send to retain the Record (WithRetain).
func Retain(ctx context.Context) bool {
	r, _ := ctx.Value(retainKey{}).(bool)
	return r
}
