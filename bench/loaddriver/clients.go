package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ferryhq/ferry/proto/gen/ferry/v1/ferryv1connect"
)

// protoHTTP1 and protoH2C name the HTTP versions the driver can speak.
const (
	protoHTTP1 = "http1"
	protoH2C   = "h2c"
)

// newHTTPClient returns a client speaking proto that adds token to every
// request. Over HTTP/1.1 it keeps enough idle connections for the driver's
// parallel calls; over h2c all calls share one connection per client.
func newHTTPClient(proto, token string) (*http.Client, error) {
	tr := &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	switch proto {
	case protoHTTP1:
	case protoH2C:
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = p
	default:
		return nil, fmt.Errorf("unknown protocol %q: want %s or %s", proto, protoHTTP1, protoH2C)
	}
	return &http.Client{Transport: &bearer{base: tr, token: token}}, nil
}

// bearer adds an Authorization header to each request.
type bearer struct {
	base  *http.Transport
	token string
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(req)
}

// closeIdle closes the idle connections of a client made by newHTTPClient.
func closeIdle(c *http.Client) {
	if b, ok := c.Transport.(*bearer); ok {
		b.base.CloseIdleConnections()
	}
}

// adminClients are the services the driver calls with the admin key.
type adminClients struct {
	pools       ferryv1connect.WorkPoolServiceClient
	deployments ferryv1connect.DeploymentServiceClient
	tokens      ferryv1connect.AgentTokenServiceClient
	runs        ferryv1connect.RunServiceClient
}

func newAdminClients(hc *http.Client, url string) adminClients {
	return adminClients{
		pools:       ferryv1connect.NewWorkPoolServiceClient(hc, url),
		deployments: ferryv1connect.NewDeploymentServiceClient(hc, url),
		tokens:      ferryv1connect.NewAgentTokenServiceClient(hc, url),
		runs:        ferryv1connect.NewRunServiceClient(hc, url),
	}
}
