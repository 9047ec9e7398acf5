package store

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	ferryv1 "github.com/ferryhq/ferry/proto/gen/ferry/v1"
)

// DecodeDeploymentSpec decodes a deployment version's stored spec, the
// protojson form of [ferryv1.DeploymentSpec]. Fields a newer version wrote
// and this one does not know are dropped.
func DecodeDeploymentSpec(b []byte) (*ferryv1.DeploymentSpec, error) {
	spec := new(ferryv1.DeploymentSpec)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, spec); err != nil {
		return nil, fmt.Errorf("decode stored deployment spec: %w", err)
	}
	return spec, nil
}
