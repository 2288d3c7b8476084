package api

import (
	"errors"
	"net/http"

	"github.com/uspkit/uspkit/controller"
)

// admissionRoutes serve the Agents waiting for approval (see
// controller.Admission): list them, approve one, or reject one, which
// forgets it.
func (s *Server) admissionRoutes() []route {
	return []route{
		{"GET", "/api/v1/pending", "Agents waiting for approval", Viewer, "", s.listPending},
		{"POST", "/api/v1/agents/{id}/approve", "Approve an agent waiting for approval", Admin, "", s.approveAgent},
	}
}

func (s *Server) listPending(w http.ResponseWriter, r *http.Request) {
	p := s.opt.Controller.Pending()
	if p == nil {
		p = []controller.Agent{}
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) approveAgent(w http.ResponseWriter, r *http.Request) {
	if err := s.opt.Controller.Approve(r.Context(), r.PathValue("id")); err != nil {
		if errors.Is(err, controller.ErrUnknownAgent) {
			writeError(w, http.StatusNotFound, "unknown agent")
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	a, _ := s.opt.Controller.Agent(r.PathValue("id"))
	writeJSON(w, http.StatusOK, a)
}
