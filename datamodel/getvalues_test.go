package datamodel_test

import (
	"context"
	"maps"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
)

// TestGetProvidedValues: a Get answers exactly the parameters asked of a
// handler, those it did not write as "", and none it wrote unasked.
func TestGetProvidedValues(t *testing.T) {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.Box.").
		Param("A", schema.String()).
		Param("B", schema.String()).
		Param("C", schema.String())
	mux := datamodel.NewMux(m)
	mux.Handle("Device.Box.", datamodel.HandlerFunc(func(_ context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		w.SetValue("A", "a") // whatever was asked
		w.SetValue("Extra", "x")
		return nil
	}))
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want map[string]string
	}{
		{"Device.Box.A", map[string]string{"A": "a"}},
		{"Device.Box.B", map[string]string{"B": ""}},
		{"Device.Box.", map[string]string{"A": "a", "B": "", "C": ""}},
	} {
		r := eng.Get(context.Background(), datamodel.Caller{}, []string{tc.path}, 0)
		if r[0].Err != nil || len(r[0].Objects) != 1 || !maps.Equal(r[0].Objects[0].Params, tc.want) {
			t.Errorf("Get %s: %+v, want %v", tc.path, r[0], tc.want)
		}
	}
}
