package controller

import (
	"testing"
)

func TestStageEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rollout Rollout
		total   int
		want    []int // stage 0, 1, 2, …
	}{
		{"no stages", Rollout{}, 10, []int{10, 10}},
		{"canary then the rest", Rollout{Canary: 2}, 10, []int{2, 10}},
		{"canary and waves", Rollout{Canary: 2, Wave: 3}, 10, []int{2, 5, 8, 10, 10}},
		{"waves only", Rollout{Wave: 4}, 10, []int{4, 8, 10}},
		{"percent rounded up", Rollout{CanaryPercent: 5, Wave: 50}, 201, []int{11, 61, 111, 161, 201}},
		{"canary larger than the fleet", Rollout{Canary: 50}, 10, []int{10, 10}},
		{"count wins over percent", Rollout{Canary: 1, CanaryPercent: 50}, 10, []int{1, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := CampaignSpec{Rollout: tc.rollout}
			for stage, want := range tc.want {
				if got := s.stageEnd(stage, tc.total); got != want {
					t.Errorf("stage %d ends at %d, want %d", stage, got, want)
				}
			}
		})
	}
}

func TestFailureRateExceeded(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		rate                    float64
		succeeded, failed, base int
		baseFailed              int
		stageEnd, pause         bool
	}{
		{"never", 0, 0, 10, 0, 0, true, false},
		{"under the sample", 0.05, 3, 1, 0, 0, false, false},
		{"under the sample at a stage end", 0.05, 3, 1, 0, 0, true, true},
		{"over", 0.05, 15, 2, 0, 0, false, true},
		{"at the rate", 0.1, 18, 2, 0, 0, false, false},
		{"first failure", -1, 0, 1, 0, 0, false, true},
		{"after a resume, only what came since", 0.05, 40, 4, 24, 4, false, false},
		{"after a resume, a new failure", 0.05, 30, 5, 24, 4, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &campaignRun{c: Campaign{Spec: CampaignSpec{Rollout: Rollout{MaxFailureRate: tc.rate, MinSample: 10}},
				Counts: CampaignCounts{Succeeded: tc.succeeded, Failed: tc.failed}, BaseFinished: tc.base, BaseFailed: tc.baseFailed}}
			if got := r.failureRateExceeded(tc.stageEnd) != ""; got != tc.pause {
				t.Errorf("pause %v, want %v (%q)", got, tc.pause, r.failureRateExceeded(tc.stageEnd))
			}
		})
	}
}

func TestInactiveBank(t *testing.T) {
	for _, tc := range []struct {
		name string
		fw   firmware
		want string
	}{
		{"second bank", firmware{active: "Device.DeviceInfo.FirmwareImage.1.", images: map[string]string{
			"Device.DeviceInfo.FirmwareImage.1.": "Active", "Device.DeviceInfo.FirmwareImage.2.": "Available"}}, "Device.DeviceInfo.FirmwareImage.2."},
		{"active named without the dot", firmware{active: "Device.DeviceInfo.FirmwareImage.2", images: map[string]string{
			"Device.DeviceInfo.FirmwareImage.1.": "NoImage", "Device.DeviceInfo.FirmwareImage.2.": "Available"}}, "Device.DeviceInfo.FirmwareImage.1."},
		{"by instance number", firmware{images: map[string]string{"Device.DeviceInfo.FirmwareImage.10.": "NoImage",
			"Device.DeviceInfo.FirmwareImage.9.": "NoImage", "Device.DeviceInfo.FirmwareImage.1.": "Active"}}, "Device.DeviceInfo.FirmwareImage.9."},
		{"one bank", firmware{images: map[string]string{"Device.DeviceInfo.FirmwareImage.1.": "Active"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.fw.inactiveBank(); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
}
