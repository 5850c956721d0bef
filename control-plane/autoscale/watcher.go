package autoscale

import "time"

// watcher runs a check every interval on its own goroutine until Close:
// the loop the replacers of dead log replicas and dead page servers share.
type watcher struct {
	stop chan struct{}
	done chan struct{}
}

func newWatcher() *watcher { return &watcher{stop: make(chan struct{}), done: make(chan struct{})} }

// start runs tick every interval until Close.
func (w *watcher) start(interval time.Duration, tick func()) {
	go func() {
		defer close(w.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			tick()
		}
	}()
}

// sleep waits d; false when the watcher was closed meanwhile.
func (w *watcher) sleep(d time.Duration) bool {
	select {
	case <-w.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// Close stops watching (what the watcher started keeps running).
func (w *watcher) Close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}
