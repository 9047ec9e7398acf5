package server

import (
	"testing"

	"github.com/ferryhq/ferry/controlplane/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }
