package webui_test

import (
	"net/http"

	"github.com/uspkit/uspkit/webui"
)

// The UI goes in front of the REST API's handler: it answers GET / and
// /ui/…, everything else reaches the API.
func ExampleMount() {
	api := http.NewServeMux() // the controller's API, e.g. api.New(…)
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: webui.Mount(api)}
	_ = srv // srv.ListenAndServe()
	// Output:
}
