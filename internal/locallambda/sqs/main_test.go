package sqs_test

import (
	"testing"

	"github.com/sluice-cd/sluice/internal/sluicetest"
)

func TestMain(m *testing.M) { sluicetest.Main(m) }
