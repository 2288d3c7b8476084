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
// mosquitto, and times persisted Sets on each in interleaved rounds; it
// checks the device build's idle VmRSS against idleRSSBudget.
func TestDeviceStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two agents")
	}
	dev := buildDevice(t, t.TempDir(), []string{"GOARCH=" + runtime.GOARCH})
	full := filepath.Join(t.TempDir(), "usp-agent")
	if out, err := exec.Command("go", "build", "-o", full, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	url := "tcp://" + testenv.StartMosquitto(t).Plain
	type run struct {
		store, bin string
		a          *deviceAgent
		c          *ctl
		p50, p90   []time.Duration
	}
	runs := []*run{{store: "journal", bin: dev}, {store: "bolt", bin: dev}, {store: "sqlite", bin: full}}
	n := time.Now().UnixNano()
	for _, r := range runs {
		agentID := "os::012345-STORE" + r.store
		agentTopic := fmt.Sprintf("usp/agent/store/%s/%d", r.store, n)
		ctrlID, ctrlTopic := "proto::store-ctl", fmt.Sprintf("usp/controller/store/%s/%d", r.store, n)
		r.a = startDevice(t, agentConf(privateTemp(t), agentID, url, agentTopic, ctrlID, ctrlTopic, r.store), r.bin)
		r.c = newCtl(t, url, ctrlID, ctrlTopic, agentID, agentTopic)
		r.c.subscribeBoot(t)
	}
	for range 3 {
		for _, r := range runs {
			p50, p90 := r.c.setLatency(t, 20)
			r.p50, r.p90 = append(r.p50, p50), append(r.p90, p90)
		}
	}
	for _, r := range runs {
		t.Logf("%s (%s build): Set p50 %v p90 %v over 3 rounds of 20", r.store, map[bool]string{true: "device", false: "default"}[r.bin == dev], r.p50, r.p90)
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
