package firmware

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/uspkit/uspkit/datamodel"
	"github.com/uspkit/uspkit/usperr"
)

// TimeWindow modes (Activate() TimeWindow.{i}.Mode).
const (
	ModeAnyTime            = "AnyTime"
	ModeImmediately        = "Immediately"
	ModeWhenIdle           = "WhenIdle"
	ModeConfirmationNeeded = "ConfirmationNeeded"
)

// Window is one TimeWindow of Activate(): offsets from the command's
// invocation.
type Window struct {
	Start, End  time.Duration
	Mode        string
	UserMessage string
	MaxRetries  int // -1: as often as the window allows
}

// ParseWindows reads the TimeWindow.{i}. arguments of Activate(): at most
// five, each Start ≤ End, in order and not overlapping [TR-181
// Activate() TimeWindow].
func ParseWindows(in map[string]string) ([]Window, error) {
	byInst := map[int]*Window{}
	for k, v := range in {
		rest, ok := strings.CutPrefix(k, "TimeWindow.")
		if !ok {
			continue
		}
		inst, name, ok := strings.Cut(rest, ".")
		i, err := strconv.Atoi(inst)
		if !ok || err != nil || i < 1 {
			return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "argument %s", k)
		}
		w := byInst[i]
		if w == nil {
			w = &Window{Start: -1, End: -1}
			byInst[i] = w
		}
		switch name {
		case "Start", "End":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "argument %s: %q", k, v)
			}
			if name == "Start" {
				w.Start = time.Duration(n) * time.Second
			} else {
				w.End = time.Duration(n) * time.Second
			}
		case "Mode":
			w.Mode = v
		case "UserMessage":
			w.UserMessage = v
		case "MaxRetries":
			n, err := strconv.Atoi(v)
			if err != nil || n < -1 || n > 10 {
				return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "argument %s: %q", k, v)
			}
			w.MaxRetries = n
		}
	}
	if len(byInst) > 5 {
		return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "at most 5 time windows, got %d", len(byInst))
	}
	insts := make([]int, 0, len(byInst))
	for i := range byInst {
		insts = append(insts, i)
	}
	sort.Ints(insts)
	var out []Window
	for _, i := range insts {
		w := *byInst[i]
		switch {
		case w.Start < 0 || w.End < 0 || w.Mode == "":
			return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "TimeWindow.%d needs Start, End and Mode", i)
		case w.End < w.Start:
			return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "TimeWindow.%d ends before it starts", i)
		case len(out) > 0 && w.Start < out[len(out)-1].End:
			return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "TimeWindow.%d overlaps the window before it", i)
		}
		switch w.Mode {
		case ModeAnyTime, ModeImmediately, ModeWhenIdle, ModeConfirmationNeeded:
		default:
			return nil, usperr.Errorf(usperr.CodeInvalidCommandArgs, "TimeWindow.%d.Mode %q", i, w.Mode)
		}
		out = append(out, w)
	}
	return out, nil
}

// activateCmd is FirmwareImage.{i}.Activate(): within the first time
// window that allows it, the image becomes the boot image and the device
// restarts into it. The restart ends the command; the next start's Boot!
// carries FirmwareUpdated and the command key.
func (s *Service) activateCmd(ctx context.Context, w datamodel.ResponseWriter, r *datamodel.Request) error {
	bank := int(r.Instances[len(r.Instances)-1])
	windows, err := ParseWindows(r.Values)
	if err != nil {
		return err
	}
	if err := s.activatable(bank); err != nil {
		return err
	}
	if len(windows) == 0 {
		windows = []Window{{Mode: ModeImmediately}}
	}
	begin := s.o.Now()
	var last error = usperr.Errorf(CodeCommandFailure, "no time window allowed the activation")
	for _, win := range windows {
		if err := s.waitUntil(ctx, begin.Add(win.Start)); err != nil {
			return err
		}
		wctx, cancel := context.WithDeadline(ctx, begin.Add(win.End))
		err := s.inWindow(wctx, bank, r.CommandKey, win)
		cancel()
		if err == nil {
			// The command completes (its OperationComplete goes out, TP-469
			// 9.4) and the restart follows after ActivateDelay.
			return nil
		}
		if ctx.Err() != nil {
			return usperr.Errorf(CodeCommandCanceled, "cancelled")
		}
		last = err
		s.log.InfoContext(ctx, "time window ended without activation", "bank", bank, "mode", win.Mode, "err", err)
	}
	return last
}

// inWindow tries to activate bank within one window (ctx ends with it).
func (s *Service) inWindow(ctx context.Context, bank int, key string, win Window) error {
	switch win.Mode {
	case ModeConfirmationNeeded:
		if s.o.Confirm == nil {
			return usperr.Errorf(CodeCommandFailure, "no user to confirm the activation")
		}
		if !s.o.Confirm(ctx, win.UserMessage) {
			return usperr.Errorf(CodeCommandFailure, "the activation was not confirmed")
		}
	case ModeWhenIdle:
		for s.o.Idle != nil && !s.o.Idle() {
			if err := s.waitUntil(ctx, s.o.Now().Add(time.Second)); err != nil {
				return usperr.Errorf(CodeCommandFailure, "the device was not idle in the window")
			}
		}
	}
	var err error
	for try := 0; win.MaxRetries < 0 || try <= win.MaxRetries; try++ {
		if err = s.activate(ctx, bank, key); err == nil || ctx.Err() != nil {
			return err
		}
		if s.waitUntil(ctx, s.o.Now().Add(time.Second)) != nil {
			break
		}
	}
	return err
}

func (s *Service) waitUntil(ctx context.Context, at time.Time) error {
	d := at.Sub(s.o.Now())
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return usperr.Errorf(CodeCommandCanceled, "cancelled")
	case <-t.C:
		return nil
	}
}

// activatable checks that bank holds a valid image that may be booted.
func (s *Service) activatable(bank int) error {
	if bank < 1 || bank > s.o.Flash.Banks() {
		return usperr.Errorf(usperr.CodeObjectNotFound, "%s does not exist", imagePath(bank))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.status(bank); st != StatusAvailable && st != StatusActive {
		return usperr.Errorf(CodeCommandFailure, "%s holds no valid image (%s)", imagePath(bank), st)
	}
	if !s.st.Banks[bank-1].Available {
		return usperr.Errorf(CodeCommandFailure, "%s is not Available", imagePath(bank))
	}
	return nil
}

// activate makes bank the boot image and has the Flash start it after
// ActivateDelay, so that the command's completion goes out first.
func (s *Service) activate(ctx context.Context, bank int, key string) error {
	if err := s.activatable(bank); err != nil {
		return err
	}
	if err := s.o.Flash.SetBoot(ctx, bank); err != nil {
		return usperr.Errorf(CodeCommandFailure, "setting the boot image: %v", err)
	}
	s.mu.Lock()
	s.st.Boot = bank
	err := s.save()
	s.mu.Unlock()
	if err != nil {
		return usperr.Errorf(CodeCommandFailure, "%v", err)
	}
	if bank == s.o.Flash.Running() {
		return nil // already running: it is the boot image again, nothing restarts
	}
	s.log.InfoContext(ctx, "activating firmware image", "bank", bank, "in", s.o.ActivateDelay)
	go func() {
		actx := context.WithoutCancel(ctx)
		time.Sleep(s.o.ActivateDelay)
		if err := s.o.Flash.Activate(actx, bank, key); err != nil {
			s.log.ErrorContext(actx, "activating firmware image", "bank", bank, "err", err)
			s.setStatus(bank, StatusActivationFailed, fmt.Sprintf("activation: %v", err))
		}
	}()
	return nil
}
