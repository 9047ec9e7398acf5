package auth

import (
	"net"
	"net/http"
	"strings"
	"time"
)

// SessionCookie is the name of the cookie that carries a browser's session
// token.
const SessionCookie = "ferry_session"

// NewSessionCookie returns the Set-Cookie value that hands token to a
// browser until expires: HttpOnly (no script can read it), SameSite=Lax,
// Path=/, and Secure when secure is set (see [CookieSecure]).
func NewSessionCookie(token string, expires time.Time, secure bool) string {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  expires.UTC(),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	return c.String()
}

// ClearSessionCookie returns the Set-Cookie value that makes a browser drop
// its session cookie.
func ClearSessionCookie(secure bool) string {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
	return c.String()
}

// CookieSecure reports whether a session cookie must be marked Secure. It
// may go without only when the request came over plain HTTP on loopback:
// the peer address is loopback, no proxy reported HTTPS in
// X-Forwarded-Proto, and the page's Origin, when sent, is not https.
// peerAddr is "host:port" or a bare host.
//
// Known limitation: a TLS-terminating proxy on the same host that sets
// neither X-Forwarded-Proto nor passes Origin makes the cookie go without
// Secure; browsers still send it over HTTPS, but would also over plain HTTP.
func CookieSecure(peerAddr string, h http.Header) bool {
	if strings.EqualFold(h.Get("X-Forwarded-Proto"), "https") ||
		strings.HasPrefix(strings.ToLower(h.Get("Origin")), "https://") {
		return true
	}
	return !isLoopbackHost(peerAddr)
}

func isLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sessionFromCookies returns the session token among the request's Cookie
// headers, or "".
func sessionFromCookies(h http.Header) string {
	for _, line := range h.Values("Cookie") {
		cookies, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range cookies {
			if c.Name == SessionCookie && c.Value != "" {
				return c.Value
			}
		}
	}
	return ""
}
