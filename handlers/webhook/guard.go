package webhook

import (
	"net/netip"
	"syscall"

	"code.dny.dev/ssrf"
)

// RefusedError is a connection the Client would not make: the address is not one a
// delivery may go to.
type RefusedError struct {
	Addr netip.Addr
	Err  error // the rule that refused it
}

// Error names the address and the rule, for logs.
func (e *RefusedError) Error() string {
	return "webhook: refusing to connect to " + e.Addr.String() + ": " + e.Err.Error()
}

// Unwrap returns the rule.
func (e *RefusedError) Unwrap() error { return e.Err }

// guardian denies every address in the IANA special-purpose registries (loopback, private,
// shared CGNAT, link-local, unspecified, documentation, benchmarking, multicast, reserved,
// 6to4, Teredo…) and every IPv6 address outside global unicast (so IPv4-mapped, NAT64 and
// unique-local forms too), on any port.
var guardian = ssrf.New(ssrf.WithAnyPort())

var (
	// metadata lists cloud instance-metadata endpoints, refused even with AllowPrivate.
	metadata = []netip.Prefix{
		netip.MustParsePrefix("169.254.0.0/16"), // link-local, with 169.254.169.254 (AWS, GCP, Azure, …)
		netip.MustParsePrefix("fe80::/10"),      // link-local
		netip.MustParsePrefix("fd00:ec2::254/128"),
	}
	// private lists what AllowPrivate opens: the networks an on-premises receiver lives on.
	private = []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("fc00::/7"),
	}
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)

// checkAddr returns a *RefusedError unless a delivery may connect to a. IPv4-mapped IPv6
// addresses are judged as the IPv4 address they carry; a NAT64 address (64:ff9b::/96) as the
// IPv4 address it carries, never opened by allowPrivate, so that DNS64 networks still reach
// public receivers.
func checkAddr(a netip.Addr, allowPrivate bool) error {
	a = a.Unmap().WithZone("")
	for _, p := range metadata {
		if p.Contains(a) {
			return &RefusedError{Addr: a, Err: ssrf.ErrProhibitedIP}
		}
	}
	if nat64.Contains(a) {
		b := a.As16()
		if err := checkAddr(netip.AddrFrom4([4]byte(b[12:])), false); err != nil {
			return &RefusedError{Addr: a, Err: err.(*RefusedError).Err}
		}
		return nil
	}
	if allowPrivate {
		for _, p := range private {
			if p.Contains(a) {
				return nil
			}
		}
	}
	if err := guardian.SafeAddr(a); err != nil {
		return &RefusedError{Addr: a, Err: err}
	}
	return nil
}

// control is the net.Dialer Control hook: it runs after the name is resolved and before each
// connection attempt, on the address about to be connected to.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Err: ssrf.ErrInvalidHostPort}
	}
	if network != "tcp4" && network != "tcp6" {
		return &RefusedError{Addr: ap.Addr(), Err: ssrf.ErrProhibitedNetwork}
	}
	if c.allowAddr != nil && c.allowAddr(ap) {
		return nil
	}
	return checkAddr(ap.Addr(), c.allowPrivate)
}
