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
