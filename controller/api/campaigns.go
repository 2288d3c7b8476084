package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/uspkit/uspkit/controller"
	"github.com/uspkit/uspkit/controller/filestore"
)

// maxUpload bounds a file uploaded to the file store when
// Options.MaxUpload is 0.
const maxUpload = 2 << 30

// CampaignBody is the body of POST /api/v1/campaigns: a campaign spec
// and, instead of its url, the ID of a file in the Controller's file store
// (POST /api/v1/files), whose URL, size and SHA-256 the campaign then
// hands to the Agents.
type CampaignBody struct {
	controller.CampaignSpec
	File string `json:"file,omitempty"`
}

// ResumeBody is the optional body of POST /api/v1/campaigns/{id}/resume.
type ResumeBody struct {
	// MaxFailureRate replaces the campaign's, if given.
	MaxFailureRate *float64 `json:"max_failure_rate,omitempty"`
}

// campaignRoutes serve campaigns and the file store. Starting, pausing,
// resuming or aborting a campaign needs the role its command needs under
// the path policy (Admin for Device.DeviceInfo.FirmwareImage. and
// Device.SoftwareModules. in DefaultPolicy).
func (s *Server) campaignRoutes() []route {
	return []route{
		{"GET", "/api/v1/campaigns", "Campaigns, newest first, with their counts", Viewer, "", s.listCampaigns},
		{"POST", "/api/v1/campaigns", "Start a firmware or software campaign", Operator, "CampaignBody", s.createCampaign},
		{"GET", "/api/v1/campaigns/{id}", "One campaign with its per-agent results", Viewer, "", s.getCampaign},
		{"POST", "/api/v1/campaigns/{id}/pause", "Pause a campaign", Operator, "", s.campaignAction("pause")},
		{"POST", "/api/v1/campaigns/{id}/resume", "Resume a paused campaign", Operator, "ResumeBody", s.campaignAction("resume")},
		{"POST", "/api/v1/campaigns/{id}/abort", "Abort a campaign", Operator, "", s.campaignAction("abort")},
		{"DELETE", "/api/v1/campaigns/{id}", "Forget a completed or aborted campaign", Operator, "", s.campaignAction("delete")},
		{"GET", "/api/v1/files", "Files the controller serves to agents", Viewer, "", s.listFiles},
		{"POST", "/api/v1/files", "Upload a file (the body; ?name=NAME) to serve to agents", Operator, "", s.uploadFile},
		{"GET", "/api/v1/files/{id}", "One file", Viewer, "", s.getFile},
		{"DELETE", "/api/v1/files/{id}", "Delete a file", Operator, "", s.deleteFile},
	}
}

// serveFiles mounts the file store's unauthenticated, unguessable URLs.
func (s *Server) serveFiles() {
	if s.opt.Files != nil {
		s.mux.Handle("GET /files/", s.opt.Files)
	}
}

// redacted hides a campaign's password.
func redacted(c controller.Campaign) controller.Campaign {
	if c.Spec.Password != "" {
		c.Spec.Password = "********"
	}
	return c
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) {
	list := s.opt.Controller.Campaigns()
	for i := range list {
		list[i] = redacted(list[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": list})
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) {
	c, err := s.opt.Controller.Campaign(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown campaign")
		return
	}
	writeJSON(w, http.StatusOK, redacted(c))
}

// campaignRole checks the caller may run spec's command under the path
// policy, and answers 403 when not.
func (s *Server) campaignRole(w http.ResponseWriter, r *http.Request, spec *controller.CampaignSpec) bool {
	if need, at := requiredRole(spec.Request(), s.opt.Policy); !callerRole(r).allows(need) {
		s.opt.Logger.Warn("api: campaign refused by the path policy", "role", callerRole(r), "need", need, "path", at)
		writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not run %s (needs %s; see the API's path policy)", callerRole(r), at, need))
		return false
	}
	return true
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var body CampaignBody
	if err == nil {
		err = decode(b, &body)
	}
	if err == nil && body.File != "" {
		err = s.fileSpec(r, &body)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !s.campaignRole(w, r, &body.CampaignSpec) {
		return
	}
	c, err := s.opt.Controller.CreateCampaign(r.Context(), body.CampaignSpec)
	switch {
	case errors.Is(err, controller.ErrCampaignSpec), errors.Is(err, controller.ErrUnknownAgent):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, redacted(c))
}

// fileSpec fills in a campaign's URL, size and checksum from a stored
// file.
func (s *Server) fileSpec(r *http.Request, body *CampaignBody) error {
	if s.opt.Files == nil {
		return errors.New("file: this controller has no file store")
	}
	if body.URL != "" || body.CheckSum != "" {
		return errors.New("file: give either file, or url and checksum")
	}
	f, err := s.opt.Files.Get(body.File)
	if err != nil {
		return fmt.Errorf("file: %w", err)
	}
	body.URL = s.filesBase(r) + f.Path()
	body.FileSize, body.CheckSumAlgorithm, body.CheckSum = uint64(f.Size), "SHA-256", f.SHA256
	return nil
}

// filesBase is the URL Agents reach the file store at: Options.FilesURL,
// else the scheme and host this request came to.
func (s *Server) filesBase(r *http.Request) string {
	if s.opt.FilesURL != "" {
		return strings.TrimSuffix(s.opt.FilesURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) campaignAction(what string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		cur, err := s.opt.Controller.Campaign(id)
		if err != nil {
			writeError(w, http.StatusNotFound, "unknown campaign")
			return
		}
		if !s.campaignRole(w, r, &cur.Spec) {
			return
		}
		var c controller.Campaign
		switch what {
		case "pause":
			c, err = s.opt.Controller.PauseCampaign(r.Context(), id, "paused by "+string(callerRole(r)))
		case "abort":
			c, err = s.opt.Controller.AbortCampaign(r.Context(), id)
		case "delete":
			if err = s.opt.Controller.DeleteCampaign(r.Context(), id); err == nil {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		case "resume":
			var body ResumeBody
			b, rerr := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
			if rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
				rerr = decode(b, &body)
			}
			if rerr != nil {
				writeError(w, http.StatusBadRequest, rerr.Error())
				return
			}
			c, err = s.opt.Controller.ResumeCampaign(r.Context(), id, body.MaxFailureRate)
		}
		switch {
		case errors.Is(err, controller.ErrCampaignState):
			writeError(w, http.StatusConflict, err.Error())
		case errors.Is(err, controller.ErrCampaignSpec):
			writeError(w, http.StatusBadRequest, err.Error())
		case err != nil:
			writeError(w, http.StatusInternalServerError, err.Error())
		default:
			writeJSON(w, http.StatusOK, redacted(c))
		}
	}
}

// fileView is a stored file as the API shows it: with the URL Agents
// fetch it from.
type fileView struct {
	filestore.File
	URL string `json:"url"`
}

func (s *Server) files(w http.ResponseWriter) bool {
	if s.opt.Files == nil {
		writeError(w, http.StatusNotImplemented, "this controller has no file store")
		return false
	}
	return true
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request) {
	if !s.files(w) {
		return
	}
	out := []fileView{}
	for _, f := range s.opt.Files.List() {
		out = append(out, fileView{f, s.filesBase(r) + f.Path()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"files": out})
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request) {
	if !s.files(w) {
		return
	}
	f, err := s.opt.Files.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, http.StatusNotFound, "unknown file")
		return
	}
	writeJSON(w, http.StatusOK, fileView{f, s.filesBase(r) + f.Path()})
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request) {
	if !s.files(w) {
		return
	}
	if err := s.opt.Files.Delete(r.PathValue("id")); err != nil {
		if errors.Is(err, filestore.ErrNotFound) {
			writeError(w, http.StatusNotFound, "unknown file")
			return
		}
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// uploadFile stores the request body; a large upload may take longer than
// the server's read timeout, so the deadline grows with the declared size.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) {
	if !s.files(w) {
		return
	}
	limit := s.opt.MaxUpload
	if limit <= 0 {
		limit = maxUpload
	}
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("file over %d bytes", limit))
		return
	}
	rc := http.NewResponseController(w)
	grace := 10*time.Minute + time.Duration(max(r.ContentLength, 0)>>16)*time.Second
	_ = rc.SetReadDeadline(time.Now().Add(grace))
	_ = rc.SetWriteDeadline(time.Now().Add(grace + time.Minute))
	f, err := s.opt.Files.Put(r.URL.Query().Get("name"), r.Body, limit)
	switch {
	case errors.Is(err, filestore.ErrName):
		writeError(w, http.StatusBadRequest, err.Error()+" (give ?name=NAME)")
		return
	case errors.Is(err, filestore.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, fileView{f, s.filesBase(r) + f.Path()})
}
