package rivetq

import "sync"

// pendingAcks holds the acks of finished jobs until the worker's next lease call
// carries them, so that a busy worker makes one round trip per job instead of two.
// While a lease call is in flight (it may be a long-poll), or once the lease loop has
// ended, an ack is not held: the job's goroutine sends it at once.
type pendingAcks struct {
	mu      sync.Mutex
	acks    []Ack
	leasing bool
	closed  bool
}

// offer queues ack for the next lease call; false means it must be sent alone.
func (p *pendingAcks) offer(ack Ack) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.leasing || p.closed {
		return false
	}
	p.acks = append(p.acks, ack)
	return true
}

// take returns the acks a lease call about to be sent carries and marks it in flight.
func (p *pendingAcks) take() []Ack {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leasing = true
	return p.empty()
}

// leased marks the lease call answered; undelivered acks (the call failed) wait for
// the next one.
func (p *pendingAcks) leased(undelivered []Ack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leasing = false
	p.acks = append(undelivered, p.acks...)
}

// close stops queueing and returns the acks no lease call will carry.
func (p *pendingAcks) close() []Ack {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return p.empty()
}

// empty returns the queued acks and clears the queue; the caller holds mu.
func (p *pendingAcks) empty() []Ack {
	acks := p.acks
	p.acks = nil
	return acks
}
