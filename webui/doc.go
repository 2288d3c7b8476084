// Package webui is the Controller's web user interface: a single page of
// plain JavaScript modules and hand-written CSS, embedded in the binary,
// that talks to the REST API (controller/api) from the browser with the
// user's bearer token. It makes no request to any other origin: every
// asset is embedded and each answer carries a Content-Security-Policy
// that allows 'self' only.
//
// Handler serves the page at "/" and its assets under "/ui/"; Mount puts
// it next to the API's handler.
package webui
