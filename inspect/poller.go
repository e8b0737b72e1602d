package inspect

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Poller reads a set of cgroups' statistics every interval from one goroutine (Run's caller
// owns it and stops it through the context). Add and Remove may be called from any goroutine.
type Poller struct {
	interval time.Duration

	mu      sync.Mutex
	readers []*StatsReader // in Add order
	errs    map[string]error
	buf     []byte // shared read buffer; only the polling goroutine uses it (under mu)
	batch   []Stats
}

// NewPoller makes a poller that reads every interval (1s if interval <= 0).
func NewPoller(interval time.Duration) *Poller {
	if interval <= 0 {
		interval = time.Second
	}
	return &Poller{interval: interval, buf: make([]byte, 8192), errs: map[string]error{}}
}

// Add starts polling the cgroup whose directories per hierarchy are paths, under id. Adding an
// id again replaces it.
func (p *Poller) Add(id string, paths map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, err := openStats(id, paths, &p.buf)
	if err != nil {
		return err
	}
	p.removeLocked(id)
	p.readers = append(p.readers, r)
	return nil
}

// Remove stops polling id and closes its files.
func (p *Poller) Remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(id)
}

func (p *Poller) removeLocked(id string) {
	for i, r := range p.readers {
		if r.id == id {
			r.Close()
			p.readers = append(p.readers[:i], p.readers[i+1:]...)
			delete(p.errs, id)
			return
		}
	}
}

// Len is the number of cgroups polled.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.readers)
}

// Poll reads every cgroup once, in Add order. The returned slice is reused by the next Poll;
// copy what you keep. A removed cgroup appears once with Gone set and is then dropped; a read
// error is kept for Err.
func (p *Poller) Poll() []Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batch = p.batch[:0]
	kept := p.readers[:0]
	for _, r := range p.readers {
		p.batch = append(p.batch, Stats{})
		s := &p.batch[len(p.batch)-1]
		err := r.Read(s)
		switch {
		case s.Gone:
			r.Close()
			continue
		case err != nil:
			p.errs[r.id] = err
		default:
			if _, had := p.errs[r.id]; had {
				delete(p.errs, r.id)
			}
		}
		kept = append(kept, r)
	}
	for i := len(kept); i < len(p.readers); i++ {
		p.readers[i] = nil
	}
	p.readers = kept
	return p.batch
}

// Err is the last read error of id, if its last reading failed.
func (p *Poller) Err(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errs[id]
}

// Run polls every interval until ctx ends, handing each batch to deliver (on Run's goroutine;
// the slice is reused afterwards). The first batch comes at once. Files are closed on return.
func (p *Poller) Run(ctx context.Context, deliver func([]Stats)) error {
	defer p.Close()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		deliver(p.Poll())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Close stops polling everything.
func (p *Poller) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.readers {
		r.Close()
	}
	p.readers = nil
}

func (s Stats) String() string {
	return fmt.Sprintf("%s cpu=%.1f%% mem=%d/%d pids=%d", s.ID, s.CPU.Percent, s.Memory.UsageBytes, s.Memory.LimitBytes, s.Pids.Current)
}
