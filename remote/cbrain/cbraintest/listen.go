package cbraintest

import (
	"fmt"
	"net"
	"strconv"
)

// ListenAlso serves the emulator on one more address, as a portal whose
// host name has several addresses (IPv4 and IPv6: a dual-stack portal)
// is reachable on each. The port is the first listener's, so that one
// URL reaches either address, as it does on a real portal. It returns the
// new listener's address ("[::1]:41234"); Close stops it too.
//
// Requests arriving on any listener share one state: a token used from
// two client addresses is deactivated (see call.authenticate), which is
// what a client whose connections change address family meets.
func (s *Server) ListenAlso(ip string) (string, error) {
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, port))
	if err != nil {
		return "", fmt.Errorf("cbraintest: listening also on %s port %s: %w", ip, port, err)
	}
	go s.srv.Serve(ln) //nolint:errcheck // returns ErrServerClosed on Close; Close closes ln
	return ln.Addr().String(), nil
}

// Port is the TCP port every listener of s uses.
func (s *Server) Port() int {
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}
