package mtp

import (
	"math"
	"math/rand/v2"
	"time"
)

// Retry is the connection retry algorithm TR-369 gives every MTP and the
// notification retry ([R-WS.19], [R-MQTT.…], [R-STOMP.…], [R-NOT.…]): the
// n-th retry waits a random time in
//
//	[ m·(k/1000)^(n-1), m·(k/1000)^n ]
//
// where m is MinWait and k is Multiplier, and every retry from the tenth on
// uses the tenth's range. MaxWait, when set, caps both ends (the
// ConnectRetryMaxInterval of MQTT and ServerRetryMaxInterval of STOMP). A
// successful connection resets the count.
//
// The zero value uses the spec's defaults, 5 seconds and 2000. A Retry is
// not safe for concurrent use.
type Retry struct {
	// MinWait is m; zero means 5 seconds.
	MinWait time.Duration
	// Multiplier is k, in thousandths; zero means 2000.
	Multiplier uint32
	// MaxWait caps the wait; zero means no cap beyond the tenth retry's.
	MaxWait time.Duration
	// Rand returns a float in [0,1); nil means math/rand/v2.
	Rand func() float64 `json:"-"`

	count int
}

// Next returns how long to wait before the next attempt and counts it.
func (r *Retry) Next() time.Duration {
	if r.count < 10 {
		r.count++
	}
	lo, hi := r.Range(r.count)
	f := rand.Float64
	if r.Rand != nil {
		f = r.Rand
	}
	return lo + time.Duration(f()*float64(hi-lo))
}

// Reset sets the retry count back to zero, after a successful connection.
func (r *Retry) Reset() { r.count = 0 }

// Count returns how many retries were counted since the last Reset.
func (r *Retry) Count() int { return r.count }

// Range returns the wait interval range of the n-th retry (n >= 1).
func (r *Retry) Range(n int) (lo, hi time.Duration) {
	m := r.MinWait
	if m <= 0 {
		m = 5 * time.Second
	}
	k := float64(r.Multiplier)
	if k == 0 {
		k = 2000
	}
	n = min(max(n, 1), 10)
	ratio := k / 1000
	lo = scale(m, math.Pow(ratio, float64(n-1)))
	hi = scale(m, math.Pow(ratio, float64(n)))
	if r.MaxWait > 0 {
		lo, hi = min(lo, r.MaxWait), min(hi, r.MaxWait)
	}
	return lo, hi
}

func scale(d time.Duration, f float64) time.Duration {
	v := float64(d) * f
	if v > float64(math.MaxInt64/2) {
		return math.MaxInt64 / 2
	}
	return time.Duration(v)
}
