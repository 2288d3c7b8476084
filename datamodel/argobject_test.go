package datamodel_test

import (
	"context"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/schema"
	"github.com/uspkit/uspkit/usperr"
)

// TestMandatoryArgumentObject: a mandatory argument of a multi-instance
// argument object ("Window.{i}.Start") does not make the object itself
// mandatory; plain mandatory arguments still are.
func TestMandatoryArgumentObject(t *testing.T) {
	m := schema.New()
	m.Define("Device.")
	m.Define("Device.X.").Command("Go()", false, []*schema.Param{
		schema.Arg("Name", schema.String(), schema.Mandatory),
		schema.Arg("Window.{i}.Start", schema.UnsignedInt(), schema.Mandatory),
	}, nil)
	mux := datamodel.NewMux(m)
	var got map[string]string
	mux.HandleFunc("Device.X.", func(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
		got = r.Values
		return nil
	})
	eng, err := datamodel.New(context.Background(), mux, datamodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in   map[string]string
		code uint32
	}{
		{map[string]string{"Name": "a"}, 0},
		{map[string]string{"Name": "a", "Window.1.Start": "5"}, 0},
		{map[string]string{"Window.1.Start": "5"}, usperr.CodeInvalidCommandArgs},
	} {
		res, err := eng.Operate(context.Background(), datamodel.Caller{}, "Device.X.Go()", "", tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if c := usperr.Code(res[0].Err); (res[0].Err == nil) != (tc.code == 0) || (tc.code != 0 && c != tc.code) {
			t.Errorf("%v: %v", tc.in, res[0].Err)
		}
		if tc.code == 0 && got["Window.1.Start"] != tc.in["Window.1.Start"] {
			t.Errorf("%v: handler saw %v", tc.in, got)
		}
	}
}
