package vrchat

// BackingOff reports whether the client's remote-wide back-off is closed
// after a 429 (for tests that must not start readers before the client
// knows of it).
func (c *Client) BackingOff() bool {
	c.throttle.mu.Lock()
	defer c.throttle.mu.Unlock()
	return c.throttle.b.limited
}
