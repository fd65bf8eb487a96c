package handlers

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// proxySet is TRUSTED_PROXIES: the addresses whose X-Forwarded-For is believed.
type proxySet []netip.Prefix

// CheckTrustedProxies reports the first TRUSTED_PROXIES entry that is neither an IP address
// nor a CIDR range.
func CheckTrustedProxies(entries []string) error {
	_, err := parseTrustedProxies(entries)
	return err
}

// parseTrustedProxies reads TRUSTED_PROXIES entries: IP addresses or CIDR ranges.
func parseTrustedProxies(entries []string) (proxySet, error) {
	var out proxySet
	for _, e := range entries {
		if p, err := netip.ParsePrefix(e); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is neither an IP address nor a CIDR range", e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (ps proxySet) has(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address a request is rate limited and logged under (forwardedClient).
func (s *Server) clientIP(c *fiber.Ctx) string {
	ip := c.Context().RemoteIP()
	peer, ok := netip.AddrFromSlice(ip)
	if !ok {
		return ip.String()
	}
	var hops []string
	if s.proxies.has(peer.Unmap()) {
		for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
			hops = append(hops, strings.Split(string(v), ",")...)
		}
	}
	return forwardedClient(peer, hops, s.proxies).String()
}

// forwardedClient is the client of a request that reached us from peer with X-Forwarded-For
// entries hops: peer itself unless it is a trusted proxy, else the nearest hop that is not
// one. Proxies append the address they received the request from, so only the right-hand end
// of the header is theirs; the left is whatever the client sent. (Fiber's c.IP() takes the
// leftmost entry, which a client behind an appending proxy such as nginx chooses freely.) An
// entry that is not an address ends the walk at the last proxy.
func forwardedClient(peer netip.Addr, hops []string, proxies proxySet) netip.Addr {
	peer = peer.Unmap()
	if !proxies.has(peer) {
		return peer
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		if !proxies.has(a) {
			return a
		}
		peer = a
	}
	return peer
}

// parseHop reads one X-Forwarded-For entry: an address, perhaps with a port.
func parseHop(h string) (netip.Addr, bool) {
	h = strings.TrimSpace(h)
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
