//go:build !usp_nobulk

package cli

import (
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/tr181/bulkdata"
)

// defineBulkData defines Device.BulkData (bulkdata.go serves it); an
// agent built with usp_nobulk has none (feature_nobulk.go).
func defineBulkData(m *schema.Model) { bulkdata.Define(m) }
