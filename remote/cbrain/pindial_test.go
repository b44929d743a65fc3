package cbrain

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filesmount/filesmount/remote"
	"github.com/filesmount/filesmount/remote/cbrain/cbraintest"
)

var (
	v4loop = netip.MustParseAddr("127.0.0.1")
	v6loop = netip.MustParseAddr("::1")
	alias  = netip.MustParseAddr("127.0.0.2") // an address of this machine on Linux
)

// requireLocal skips when a is not an address of this machine (no IPv6,
// or no loopback alias outside Linux): the test needs it to leave from.
func requireLocal(t *testing.T, a netip.Addr) {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(a, 0).String())
	if err != nil {
		t.Skipf("%s is not an address of this machine here: %v", a, err)
	}
	ln.Close()
}

// rotating is a resolver that answers addrs in a new order on every call,
// as round-robin DNS does: a dialer that follows the resolver's first
// answer would change address family from one connection to the next.
func rotating(addrs ...netip.Addr) (func(context.Context, string) ([]netip.Addr, error), *atomic.Int64) {
	var calls atomic.Int64
	return func(context.Context, string) ([]netip.Addr, error) {
		n := int(calls.Add(1) - 1)
		out := make([]netip.Addr, len(addrs))
		for i := range addrs {
			out[i] = addrs[(i+n)%len(addrs)]
		}
		return out, nil
	}, &calls
}

// acceptor listens on each address, on one port, and records the address
// every connection came from and the one it reached.
type acceptor struct {
	port int
	mu   sync.Mutex // protects from, to
	from map[netip.Addr]int
	to   map[netip.Addr]int
}

func listenOn(t *testing.T, addrs ...netip.Addr) *acceptor {
	t.Helper()
	a := &acceptor{from: map[netip.Addr]int{}, to: map[netip.Addr]int{}}
	for _, ip := range addrs {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(a.port)).String())
		if err != nil {
			t.Skipf("cannot listen on %s: %v", ip, err)
		}
		t.Cleanup(func() { ln.Close() })
		if a.port == 0 {
			a.port = ln.Addr().(*net.TCPAddr).Port
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				r, _ := netip.ParseAddrPort(c.RemoteAddr().String())
				l, _ := netip.ParseAddrPort(c.LocalAddr().String())
				a.mu.Lock()
				a.from[r.Addr().Unmap()]++
				a.to[l.Addr().Unmap()]++
				a.mu.Unlock()
				c.Close()
			}
		}()
	}
	return a
}

func (a *acceptor) counts() (from, to map[netip.Addr]int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	from, to = map[netip.Addr]int{}, map[netip.Addr]int{}
	for k, v := range a.from {
		from[k] = v
	}
	for k, v := range a.to {
		to[k] = v
	}
	return from, to
}

// waitAccepted waits (bounded) until the acceptor has seen n connections.
func (a *acceptor) waitAccepted(t *testing.T, n int) (from, to map[netip.Addr]int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		from, to = a.counts()
		total := 0
		for _, v := range from {
			total += v
		}
		if total >= n || time.Now().After(deadline) {
			return from, to
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many concurrent connections to a dual-stack portal whose resolver
// rotates its answers: all leave from one address, to one family.
func TestPinnedDialerUsesOneAddress(t *testing.T) {
	requireLocal(t, v6loop)
	acc := listenOn(t, v4loop, v6loop)
	d := newPinnedDialer(netip.Addr{})
	var calls *atomic.Int64
	d.lookup, calls = rotating(v4loop, v6loop)
	const conns, parallel = 40, 8
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := d.DialContext(context.Background(), "tcp", net.JoinHostPort("portal.test", strconv.Itoa(acc.port)))
			if err != nil {
				errs <- err
				return
			}
			c.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	from, to := acc.waitAccepted(t, conns)
	if len(from) != 1 || len(to) != 1 || from[d.Local()] != conns {
		t.Fatalf("connections came from %v and reached %v; want all %d from the pinned %v", from, to, conns, d.Local())
	}
	if calls.Load() < conns {
		t.Errorf("the resolver was asked %d times for %d connections: the rotation was not exercised", calls.Load(), conns)
	}
}

// The first connection tries the addresses in the resolver's order and
// pins the family it got; later answers in any order keep to it; an
// answer without that family is refused rather than leaving from another
// address.
func TestPinnedDialerKeepsTheFirstFamily(t *testing.T) {
	requireLocal(t, v6loop)
	acc := listenOn(t, v4loop) // nothing on ::1: the first address fails
	d := newPinnedDialer(netip.Addr{})
	answer := []netip.Addr{v6loop, v4loop}
	var mu sync.Mutex // protects answer
	d.lookup = func(context.Context, string) ([]netip.Addr, error) {
		mu.Lock()
		defer mu.Unlock()
		return append([]netip.Addr(nil), answer...), nil
	}
	addr := net.JoinHostPort("portal.test", strconv.Itoa(acc.port))
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("first connection (::1 refused, then 127.0.0.1): %v", err)
	}
	c.Close()
	if d.Local() != v4loop {
		t.Fatalf("pinned %v, want %v", d.Local(), v4loop)
	}
	// An IPv6 listener appears and comes first: IPv4 is kept.
	acc6 := listenOnPort(t, v6loop, acc.port)
	for i := 0; i < 5; i++ {
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if n := acc6.Load(); n != 0 {
		t.Errorf("%d connections went over IPv6", n)
	}
	mu.Lock()
	answer = []netip.Addr{v6loop}
	mu.Unlock()
	_, err = d.DialContext(context.Background(), "tcp", addr)
	if !errors.Is(err, remote.ErrUnavailable) || !strings.Contains(err.Error(), "has no IPv4 address") {
		t.Errorf("an IPv6-only answer: %v", err)
	}
}

// listenOnPort counts the connections reaching ip:port.
func listenOnPort(t *testing.T, ip netip.Addr, port int) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(port)).String())
	if err != nil {
		t.Skipf("cannot listen on %s port %d: %v", ip, port, err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return &n
}

// dualStackPortal is an emulated portal listening on 127.0.0.1 and ::1,
// one port, with a user and a token bound on first use.
func dualStackPortal(t *testing.T) (srv *cbraintest.Server, url string, user int) {
	t.Helper()
	requireLocal(t, v6loop)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := srv.ListenAlso("::1"); err != nil {
		t.Skip(err)
	}
	user = srv.AddUser("norm", "pw", false)
	return srv, "http://portal.test:" + strconv.Itoa(srv.Port()), user
}

// A token survives a dual-stack portal: 20 fresh connections, 4 at a
// time, under a resolver that rotates the families, all keep it. The
// control, a client whose connections follow the resolver's first answer,
// gets the empty 401 on its first change of family.
func TestTokenSurvivesADualStackPortal(t *testing.T) {
	srv, url, user := dualStackPortal(t)
	c, err := NewClient(Config{URL: url, Token: srv.NewToken(user)})
	if err != nil {
		t.Fatal(err)
	}
	c.dialer.lookup, _ = rotating(v6loop, v4loop)
	c.http.Transport.(*http.Transport).DisableKeepAlives = true // a new connection per request
	const requests, parallel = 20, 4
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := 0; i < requests; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := c.CheckSession(context.Background()); err != nil {
				failed.Add(1)
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := srv.Stats().TokenIPChanges; n != 0 || failed.Load() != 0 {
		t.Fatalf("%d requests failed, %d tokens deactivated; want none", failed.Load(), n)
	}

	// The control: a second token, and connections to the resolver's
	// first answer, whatever its family.
	token2 := srv.NewToken(user)
	lookup, _ := rotating(v4loop, v6loop)
	follow := &http.Transport{DisableKeepAlives: true, DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(address)
		addrs, _ := lookup(ctx, "portal.test")
		var d net.Dialer
		return d.DialContext(ctx, "tcp", net.JoinHostPort(addrs[0].String(), port))
	}}
	control, err := NewClient(Config{URL: url, Token: token2, HTTPClient: &http.Client{Transport: follow}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := control.CheckSession(context.Background()); err != nil {
		t.Fatalf("control, first request: %v", err)
	}
	_, err = control.CheckSession(context.Background())
	var se *remote.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusUnauthorized || !errors.Is(err, remote.ErrAuth) {
		t.Fatalf("control, after a change of family: %v; want the 401", err)
	}
	if n := srv.Stats().TokenIPChanges; n != 1 {
		t.Errorf("%d tokens deactivated, want the control's", n)
	}
}

// Login and mount are two processes: the token file carries the address
// the login left from, and clients made from it leave from there too. A
// client left to choose leaves from another address and kills the token.
func TestLoginAddressCarriesToTheMount(t *testing.T) {
	requireLocal(t, alias)
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.AddUser("norm", "pw", false)
	// A machine whose route to the portal leaves from 127.0.0.2.
	fromAlias := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: alias.AsSlice()}}).DialContext}}
	s, err := Login(context.Background(), srv.URL(), "norm", "pw", fromAlias)
	if err != nil {
		t.Fatal(err)
	}
	if s.LocalAddr != alias {
		t.Fatalf("the login left from %v, want %v", s.LocalAddr, alias)
	}
	raw, err := json.Marshal(TokenFile{URL: srv.URL(), Token: s.Token, LocalAddr: s.LocalAddr.String()})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"local_addr":"127.0.0.2"`) {
		t.Fatalf("token file %s", strings.ReplaceAll(string(raw), s.Token, "TOKEN"))
	}
	var tf TokenFile
	if err := json.Unmarshal(raw, &tf); err != nil {
		t.Fatal(err)
	}
	cfg, err := tf.Config()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // mounts, one after the other
		c, err := NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CheckSession(context.Background()); err != nil {
			t.Fatalf("client %d from the token file: %v", i, err)
		}
		if c.LocalAddr() != alias {
			t.Errorf("client %d left from %v", i, c.LocalAddr())
		}
	}
	unpinned, err := NewClient(Config{URL: tf.URL, Token: tf.Token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unpinned.CheckSession(context.Background()); !errors.Is(err, remote.ErrAuth) {
		t.Fatalf("a client left to choose (from %v): %v; want the 401", unpinned.LocalAddr(), err)
	}
	if n := srv.Stats().TokenIPChanges; n != 1 {
		t.Errorf("%d tokens deactivated, want 1", n)
	}
}

// A token bound to an address this machine no longer has: one clear
// authentication error, no retries, no request leaving from elsewhere.
func TestBoundAddressGone(t *testing.T) {
	srv, err := cbraintest.New(cbraintest.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	user := srv.AddUser("norm", "pw", false)
	gone := netip.MustParseAddr("192.0.2.7") // TEST-NET-1: never local
	c, err := NewClient(Config{URL: srv.URL(), Token: srv.NewToken(user), LocalAddr: gone})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CheckSession(context.Background())
	if !errors.Is(err, remote.ErrAuth) || !strings.Contains(err.Error(), "no longer an address of this machine") {
		t.Fatalf("got %v", err)
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("%d requests reached the portal", n)
	}
	if strings.Contains(err.Error(), "attempts") {
		t.Errorf("retried: %v", err)
	}
}
