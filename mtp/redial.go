package mtp

import (
	"context"
	"log/slog"
	"time"
)

// Session is one connection of a client transport, from dial to its end.
// It reports whether the connection came up, which starts the retry count
// again, and why the connection ended or could not be made.
type Session func(ctx context.Context) (up bool, err error)

// RedialOptions configure Redial. The zero value logs nothing and treats
// every error as one to retry after.
type RedialOptions struct {
	// Logger receives one line before each wait, with the attributes
	// attempt (the retry count), wait and err; nil discards them. Give it
	// the transport's address with slog.Logger.With.
	Logger *slog.Logger
	// Level is that line's level; zero means slog.LevelInfo.
	Level slog.Level
	// Msg is that line's message; empty means "mtp: not connected; retrying".
	Msg string
	// Fatal, if not nil, picks the errors that end Redial at once instead
	// of a retry, such as a configuration the server will never accept.
	Fatal func(err error) bool
}

// Redial runs session again and again until ctx is done, waiting between
// two sessions as r says: the connection retry state every MTP's client
// role enters when a connection cannot be made or ends ([R-WS.19],
// [R-MQTT.10], [R-STOMP.7], [R-UDS.5]). r's count goes back to zero after
// a session reports that its connection came up ([R-WS.20]); Redial does
// that, not the session. nil r means a zero Retry.
//
// Redial returns nil once ctx is done, during a session or a wait, or the
// first error o.Fatal picks; it never calls session with a ctx already
// done. session must return soon after ctx is done.
func Redial(ctx context.Context, r *Retry, session Session, o *RedialOptions) error {
	if r == nil {
		r = new(Retry)
	}
	var opt RedialOptions
	if o != nil {
		opt = *o
	}
	for ctx.Err() == nil {
		up, err := session(ctx)
		if err != nil && opt.Fatal != nil && opt.Fatal(err) {
			return err
		}
		if ctx.Err() != nil {
			break
		}
		if up {
			r.Reset()
		}
		wait := r.Next()
		opt.log(ctx, r.Count(), wait, err)
		if !sleep(ctx, wait) {
			break
		}
	}
	return nil
}

// log writes the line before a wait.
func (o *RedialOptions) log(ctx context.Context, attempt int, wait time.Duration, err error) {
	if o.Logger == nil {
		return
	}
	msg := o.Msg
	if msg == "" {
		msg = "mtp: not connected; retrying"
	}
	o.Logger.Log(ctx, o.Level, msg, "attempt", attempt, "wait", wait, "err", err)
}

// sleep waits for d and reports true, or for ctx to end and reports false.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
