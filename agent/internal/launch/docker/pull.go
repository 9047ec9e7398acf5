package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"

	"github.com/ferryhq/ferry/agent/internal/launch"
)

// dockerHubConfigKey is the key under which docker's own config.json files
// Docker Hub credentials; it is accepted as well as "docker.io".
const dockerHubConfigKey = "https://index.docker.io/v1/"

// ensureImage makes sure the engine has the image name as policy asks and
// returns its full reference, such as "docker.io/library/alpine:3.20". An
// invalid reference, an image that is missing under [launch.PullNever] and one
// the registry does not have are errors wrapping [launch.ErrInvalidJob].
func (l *Launcher) ensureImage(ctx context.Context, name string, policy launch.PullPolicy) (string, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return "", fmt.Errorf("%w: image %q: %w", launch.ErrInvalidJob, name, err)
	}
	// A reference without a tag would pull every tag of the repository.
	named = reference.TagNameOnly(named)
	ref := named.String()

	if policy != launch.PullAlways {
		present, err := l.hasImage(ctx, ref)
		if err != nil {
			return "", err
		}
		switch {
		case present:
			return ref, nil
		case policy == launch.PullNever:
			return "", fmt.Errorf("%w: image %s is not present and pull policy is never", launch.ErrInvalidJob, name)
		}
	}
	if err := l.pull(ctx, named); err != nil {
		return "", err
	}
	return ref, nil
}

// hasImage reports whether the engine has the image ref.
func (l *Launcher) hasImage(ctx context.Context, ref string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := l.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("inspect image %s: %w", ref, err)
}

// pull pulls the image named, with the agent's credentials for its registry
// if it has any.
func (l *Launcher) pull(ctx context.Context, named reference.Named) error {
	ref := named.String()
	domain := reference.Domain(named)
	opts := image.PullOptions{}
	if auth, ok := l.registryAuth(domain); ok {
		enc, err := registry.EncodeAuthConfig(registry.AuthConfig{
			Username:      auth.Username,
			Password:      auth.Password,
			IdentityToken: auth.IdentityToken,
			ServerAddress: domain,
		})
		if err != nil {
			return fmt.Errorf("encode credentials for registry %s: %w", domain, err)
		}
		opts.RegistryAuth = enc
	}

	ctx, cancel := context.WithTimeout(ctx, l.pullTimeout)
	defer cancel()
	l.logger.DebugContext(ctx, "pulling image", slog.String("image", ref),
		slog.Bool("authenticated", opts.RegistryAuth != ""))
	body, err := l.cli.ImagePull(ctx, ref, opts)
	if err == nil {
		// The engine reports most failures inside the progress stream, after
		// a successful response.
		err = readProgress(body)
		body.Close()
	}
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%w: pull image %s: %w", launch.ErrInvalidJob, ref, err)
	}
	return fmt.Errorf("pull image %s: %w", ref, err)
}

// registryAuth returns the agent's credentials for the registry host domain.
func (l *Launcher) registryAuth(domain string) (RegistryAuth, bool) {
	if auth, ok := l.auth[domain]; ok {
		return auth, true
	}
	if domain == "docker.io" {
		auth, ok := l.auth[dockerHubConfigKey]
		return auth, ok
	}
	return RegistryAuth{}, false
}

// readProgress reads the engine's stream of JSON progress messages to its
// end and returns the error it reports, if any.
func readProgress(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read progress: %w", err)
		}
		switch {
		case msg.ErrorDetail.Message != "":
			return errors.New(msg.ErrorDetail.Message)
		case msg.Error != "":
			return errors.New(msg.Error)
		}
	}
}
