package audit

import (
	"fmt"
	"net/netip"
	"strings"
)

// Proxy is a range of reverse-proxy addresses whose X-Forwarded-For
// header is trusted.
type Proxy = netip.Prefix

// ParseProxies parses trusted proxies given as addresses ("10.0.0.7") or
// CIDR ranges ("10.0.0.0/8", "fd00::/8"), as the --trusted-proxy flag
// takes them.
func ParseProxies(values []string) ([]Proxy, error) {
	out := make([]Proxy, 0, len(values))
	for _, v := range values {
		v = strings.TrimSpace(v)
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an IP address or a CIDR range", v)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

type proxies []Proxy

func (ps proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// source returns the caller's address: the TCP peer's, or, when the peer
// is a trusted proxy, the nearest untrusted address in X-Forwarded-For read
// from the right (each proxy appends the address it received the request
// from, so entries left of the first untrusted one are the client's to
// forge).
func (ps proxies) source(peer string, forwarded []string) string {
	ap, err := netip.ParseAddrPort(peer)
	if err != nil {
		return peer
	}
	addr := ap.Addr().Unmap()
	if len(ps) == 0 || !ps.trusted(addr) {
		return addr.String()
	}
	var hops []string
	for _, h := range forwarded {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			// Garbage cannot have come from a trusted proxy: stop at the
			// last address one of them vouched for.
			break
		}
		addr = hop.Unmap()
		if !ps.trusted(addr) {
			break
		}
	}
	return addr.String()
}
