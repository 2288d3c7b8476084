package conformance

import (
	"context"
	"sync"
	"time"
)

// waitRecorded returns the first item of *items at index from or later
// that match accepts, waiting up to d for more. The runner's MTP servers
// append to *items under mu and close and replace *changed at each
// append.
func waitRecorded[T any](ctx context.Context, mu *sync.Mutex, items *[]T, changed *chan struct{}, from int, d time.Duration, match func(T) bool) (T, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	var zero T
	for {
		mu.Lock()
		for i := from; i < len(*items); i++ {
			if it := (*items)[i]; match(it) {
				mu.Unlock()
				return it, true
			}
		}
		from = len(*items)
		ch := *changed
		mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			return zero, false
		case <-ctx.Done():
			return zero, false
		}
	}
}

// timesSince returns the times of *times after t, read under mu.
func timesSince(mu *sync.Mutex, times *[]time.Time, t time.Time) []time.Time {
	mu.Lock()
	defer mu.Unlock()
	var out []time.Time
	for _, a := range *times {
		if a.After(t) {
			out = append(out, a)
		}
	}
	return out
}

// waitTimes waits up to d for n times of *times after t (the runner's
// servers record accepted connections there, under mu, closing and
// replacing *changed) and returns those there are.
func waitTimes(ctx context.Context, mu *sync.Mutex, times *[]time.Time, changed *chan struct{}, t time.Time, n int, d time.Duration) []time.Time {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		mu.Lock()
		ch := *changed
		mu.Unlock()
		if got := timesSince(mu, times, t); len(got) >= n {
			return got
		}
		select {
		case <-ch:
		case <-deadline.C:
			return timesSince(mu, times, t)
		case <-ctx.Done():
			return timesSince(mu, times, t)
		}
	}
}

// recordedSince returns, under mu, the items of *items whose time (at) is
// at or after since, oldest first.
func recordedSince[T any](mu *sync.Mutex, items *[]T, since time.Time, at func(T) time.Time) []T {
	mu.Lock()
	defer mu.Unlock()
	var out []T
	for _, it := range *items {
		if !at(it).Before(since) {
			out = append(out, it)
		}
	}
	return out
}
