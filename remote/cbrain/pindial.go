package cbrain

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/filesmount/filesmount/remote"
)

// A CBRAIN token is bound to the client address that logged in: a request
// from any other address deactivates it for good (session_helpers.rb,
// cbrain_session_from_api_token). A portal with both IPv4 and IPv6
// addresses would see that on the first connection that leaves over the
// other family — which Go's default dialer does whenever its Happy
// Eyeballs race lets the second family win — and a host with several
// addresses of one family may also leave from another one.
//
// pinnedDialer keeps every connection on one local address:
//   - the first connection tries the portal's addresses one after the
//     other, in the resolver's order, with no race, and its local address
//     is then pinned;
//   - every later connection binds to that address and uses only the
//     portal's addresses of its family.
//
// A pin may also be given from the start (Config.LocalAddr): the address
// the login left from, which the token file records, since login and
// mount are separate processes.
type pinnedDialer struct {
	dialer net.Dialer // Timeout and KeepAlive; LocalAddr is set per dial
	// lookup resolves the portal's host name, in the resolver's order.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// first lets one unpinned dial run at a time, so that concurrent
	// first connections cannot leave from different addresses: the
	// others wait for the pin. A channel rather than a mutex so that a
	// waiter can give up with its context.
	first chan struct{}

	mu    sync.Mutex // protects local
	local netip.Addr // the pinned local address; invalid until pinned
}

func newPinnedDialer(local netip.Addr) *pinnedDialer {
	return &pinnedDialer{
		dialer: net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second},
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		first: make(chan struct{}, 1),
		local: local.Unmap(),
	}
}

// Local is the pinned local address (invalid until the first connection
// when no pin was given).
func (d *pinnedDialer) Local() netip.Addr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.local
}

func (d *pinnedDialer) pin(a netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.local.IsValid() {
		d.local = a.Unmap()
	}
}

// DialContext is http.Transport.DialContext.
func (d *pinnedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if local := d.Local(); local.IsValid() {
		return d.dialFrom(ctx, local, host, port)
	}
	select {
	case d.first <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-d.first }()
	if local := d.Local(); local.IsValid() {
		return d.dialFrom(ctx, local, host, port) // pinned while this one waited
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	conn, err := d.dialInTurn(ctx, netip.Addr{}, addrs, port)
	if err != nil {
		return nil, err
	}
	if ap, err := netip.ParseAddrPort(conn.LocalAddr().String()); err == nil {
		d.pin(ap.Addr())
	}
	return conn, nil
}

// dialFrom dials the portal's addresses of local's family, in the
// resolver's order, from local.
func (d *pinnedDialer) dialFrom(ctx context.Context, local netip.Addr, host, port string) (net.Conn, error) {
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	same := addrs[:0:0]
	for _, a := range addrs {
		if a.Is4() == local.Is4() {
			same = append(same, a)
		}
	}
	if len(same) == 0 {
		return nil, fmt.Errorf("cbrain: %s has no %s address, and the CBRAIN token is bound to %s, this machine's %s address: "+
			"another address would deactivate it; run `filesmount login cbrain` to get a token for an address that reaches the portal: %w",
			host, family(local), local, family(local), remote.ErrUnavailable)
	}
	return d.dialInTurn(ctx, local, same, port)
}

// dialInTurn tries addrs one after the other (no race between them), from
// local if it is valid, and returns the first connection made.
func (d *pinnedDialer) dialInTurn(ctx context.Context, local netip.Addr, addrs []netip.Addr, port string) (net.Conn, error) {
	var firstErr error
	for _, a := range addrs {
		dl := d.dialer
		network := "tcp4"
		if a.Is6() {
			network = "tcp6"
		}
		if local.IsValid() {
			dl.LocalAddr = &net.TCPAddr{IP: local.AsSlice(), Zone: local.Zone()}
		}
		conn, err := dl.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if local.IsValid() && errors.Is(err, syscall.EADDRNOTAVAIL) {
			return nil, &boundAddressGoneError{local: local, err: err}
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

func (d *pinnedDialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := d.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	return addrs, nil
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// boundAddressGoneError: the address the token is bound to is no longer
// one of this machine's (another network, a new DHCP lease). Retrying
// cannot help and another address would kill the token, so the request
// fails at once as an authentication problem (Client.attempt).
type boundAddressGoneError struct {
	local netip.Addr
	err   error
}

func (e *boundAddressGoneError) Error() string {
	return fmt.Sprintf("cbrain: the CBRAIN token is bound to %s, which is no longer an address of this machine "+
		"(the portal deactivates a token used from another address); run `filesmount login cbrain` again: %v", e.local, e.err)
}

func (e *boundAddressGoneError) Unwrap() []error { return []error{e.err, remote.ErrAuth} }
