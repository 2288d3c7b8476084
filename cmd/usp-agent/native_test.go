//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/uspkit/uspkit/internal/testenv"
)

// idleRSSBudget is the idle VmRSS, in KiB, the device build of the agent
// stays within on the machine it runs on, with its default GOGC and
// GOMEMLIMIT (memory.go).
const idleRSSBudget = 12 * 1024

// TestDeviceStores runs, on this machine's CPU, the device build with the
// journal and with bbolt and the default build with SQLite on one
// mosquitto, and times persisted Sets on each in interleaved rounds; the
// device build with the journal runs a second time with Go's own GOGC and
// GOMEMLIMIT. It logs each one's VmRSS once idle after the Sets, and
// checks the device build's against idleRSSBudget after a restart.
func TestDeviceStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two agents")
	}
	dev := buildDevice(t, t.TempDir(), []string{"GOARCH=" + runtime.GOARCH})
	devBolt := buildDeviceTags(t, t.TempDir(), []string{"GOARCH=" + runtime.GOARCH}, "usp_bolt") // bbolt is in the device build with usp_bolt only
	full := filepath.Join(t.TempDir(), "usp-agent")
	if out, err := exec.Command("go", "build", "-o", full, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url := "tcp://" + testenv.StartMosquitto(t).Plain
	type run struct {
		name, store, bin string
		env              []string
		a                *deviceAgent
		c                *ctl
		p50, p90         []time.Duration
		rss              int
	}
	runs := []*run{
		{name: "journal, device build", store: "journal", bin: dev},
		{name: "bolt, device build (usp_bolt)", store: "bolt", bin: devBolt},
		{name: "sqlite, default build", store: "sqlite", bin: full},
		{name: "journal, device build, GOGC=100 GOMEMLIMIT=off", store: "journal", bin: dev, env: []string{"GOGC=100", "GOMEMLIMIT=off"}},
	}
	n := time.Now().UnixNano()
	for i, r := range runs {
		agentID := fmt.Sprintf("os::012345-STORE%d", i)
		agentTopic := fmt.Sprintf("usp/agent/store/%d/%d", i, n)
		ctrlID, ctrlTopic := "proto::store-ctl", fmt.Sprintf("usp/controller/store/%d/%d", i, n)
		r.a = startDeviceEnv(t, agentConf(privateTemp(t), agentID, url, agentTopic, ctrlID, ctrlTopic, r.store), r.env, r.bin)
		r.c = newCtl(t, url, ctrlID, ctrlTopic, agentID, agentTopic)
		r.c.subscribeBoot(t)
	}
	for range 5 {
		for _, r := range runs {
			p50, p90 := r.c.setLatency(t, 30)
			r.p50, r.p90 = append(r.p50, p50), append(r.p90, p90)
		}
	}
	for _, r := range runs {
		r.rss = r.a.rssKiB()
	}
	for end := time.Now().Add(25 * time.Second); time.Now().Before(end); time.Sleep(time.Second) {
		for _, r := range runs {
			if v := r.a.rssKiB(); v > 0 && v < r.rss {
				r.rss = v
			}
		}
	}
	for _, r := range runs {
		t.Logf("%s: Set p50 per round %v, p90 %v (5 rounds of 30, interleaved); idle VmRSS after them %d KiB", r.name, r.p50, r.p90, r.rss)
	}
	// Idle RSS and start to Boot! of the device build with the journal.
	j := runs[0]
	conf, err := os.ReadFile(j.a.cmd.Args[len(j.a.cmd.Args)-1])
	if err != nil {
		t.Fatal(err)
	}
	j.a.stop()
	j.a = startDevice(t, string(conf), dev)
	boot := j.c.waitBoot(t, 30*time.Second).Sub(j.a.started)
	rss := j.a.idleRSS(25 * time.Second)
	t.Logf("device build, journal, linux/%s: start to Boot! %v; idle VmRSS %d KiB", runtime.GOARCH, boot.Round(time.Millisecond), rss)
	if rss == 0 || rss > idleRSSBudget {
		t.Errorf("idle VmRSS %d KiB, want at most %d [device build, GOGC=%d GOMEMLIMIT=%dMiB]", rss, idleRSSBudget, gcPercent, memoryLimit>>20)
	}
}
