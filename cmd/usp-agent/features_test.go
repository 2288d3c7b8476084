//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
	"github.com/uspkit/uspkit/wire"
)

// TestDeviceBuildMinimal builds the "minimal CPE" profile (every feature
// tag) for the host CPU and checks that it refuses the configuration
// sections of what it left out, then runs it and the device build with
// all of them over MQTT and compares their supported data models
// (GetSupportedDM of Device. [R-GSP.1]): the objects of each feature are
// in the one and not in the other.
func TestDeviceBuildMinimal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two agents")
	}
	env := []string{"GOARCH=" + runtime.GOARCH}
	minimal := buildDeviceTags(t, t.TempDir(), env, minimalTags()...)
	full := buildDevice(t, t.TempDir(), env)

	for _, f := range deviceFeatures {
		if f.section == "" {
			continue
		}
		t.Run("refuses/"+f.tag, func(t *testing.T) {
			dir := privateTemp(t)
			cfg := filepath.Join(dir, "agent.yaml")
			os.WriteFile(cfg, []byte("endpoint_id: os::012345-FEATURE\ndata: "+dir+"\n"+f.section), 0o600)
			cmd := exec.Command(minimal, "--config", cfg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			want := "not in this build (" + f.tag + ")"
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), want) {
					t.Errorf("exit %v, stderr %q; want status 1 and %q", err, stderr.String(), want)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("the agent started with %q", f.section)
			}
		})
	}

	url := "tcp://" + testenv.StartMosquitto(t).Plain
	n := time.Now().UnixNano()
	supported := func(name, bin, extra string) map[string]bool {
		t.Helper()
		agentID := "os::012345-" + strings.ToUpper(name)
		agentTopic := fmt.Sprintf("usp/agent/%s/%d", name, n)
		ctrlID, ctrlTopic := "proto::features-ctl", fmt.Sprintf("usp/controller/%s/%d", name, n)
		dir := privateTemp(t)
		startDevice(t, agentConf(dir, agentID, url, agentTopic, ctrlID, ctrlTopic, "")+extra, bin)
		c := newCtl(t, url, ctrlID, ctrlTopic, agentID, agentTopic)
		c.waitReady(t, 60*time.Second)
		req := &wire.Request{ReqType: &wire.Request_GetSupportedDm{GetSupportedDm: &wire.GetSupportedDM{ObjPaths: []string{"Device."}}}}
		r, err := c.do(wire.Header_GET_SUPPORTED_DM, req, 30*time.Second)
		if err != nil {
			t.Fatalf("%s: GetSupportedDM: %v", name, err)
		}
		objs := map[string]bool{}
		for _, res := range r.GetBody().GetResponse().GetGetSupportedDmResp().GetReqObjResults() {
			for _, o := range res.GetSupportedObjs() {
				objs[o.GetSupportedObjPath()] = true
			}
		}
		if !objs["Device.LocalAgent."] {
			t.Fatalf("%s: GetSupportedDM answered %d objects, no Device.LocalAgent.: %v", name, len(objs), r)
		}
		return objs
	}
	// The device build with every feature configured that needs its section.
	withAll := fmt.Sprintf("host: {}\nsoftware_modules:\n  exec_envs: [process]\n  dir: %s\n", t.TempDir())
	inFull := supported("full", full, withAll)
	inMinimal := supported("minimal", minimal, "")
	for _, f := range deviceFeatures {
		for _, o := range f.objects {
			if !inFull[o] {
				t.Errorf("the device build has no %s (test configuration?)", o)
			}
			if inMinimal[o] {
				t.Errorf("built with %s the agent still has %s", f.tag, o)
			}
		}
	}
	t.Logf("supported objects: device build %d, minimal CPE %d", len(inFull), len(inMinimal))
}
