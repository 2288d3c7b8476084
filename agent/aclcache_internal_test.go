package agent

import (
	"fmt"
	"testing"

	"github.com/uspkit/uspkit/datamodel"
)

// benchAccess is the access of a Controller with a full-access role and a
// read-only override on one subtree, as the Factory configuration gives.
func benchAccess() *access {
	l := newACL()
	l.set(map[string]*role{"R": {perms: []perm{
		newPerm(1, "Device.", "rw-n", "rw-n", "rw-n", "r-xn"),
		newPerm(2, "Device.LocalAgent.Subscription.*.ID", "r---", "r---", "r---", "r---"),
	}}}, map[string][]string{"c": {"R"}}, nil)
	return l.forController("c").(*access)
}

// BenchmarkPermsInstances asks the permissions of the parameters of
// 10,000 Subscription instances, each once, as a load over many rows does.
func BenchmarkPermsInstances(b *testing.B) {
	paths := make([]string, 10000)
	for i := range paths {
		paths[i] = fmt.Sprintf("Device.LocalAgent.Subscription.%d.Enable", i+1)
	}
	a := benchAccess()
	b.ReportAllocs()
	i := 0
	var sink datamodel.Perms
	for b.Loop() {
		sink |= a.Perms(paths[i%len(paths)])
		i++
	}
	_ = sink
}

// BenchmarkPermsSame asks the permissions of one path again and again.
func BenchmarkPermsSame(b *testing.B) {
	a := benchAccess()
	b.ReportAllocs()
	var sink datamodel.Perms
	for b.Loop() {
		sink |= a.Perms("Device.LocalAgent.Subscription.12.Enable")
	}
	_ = sink
}

// uncachedPerms is access.Perms without its cache: the reference.
func uncachedPerms(a *access, path string) datamodel.Perms {
	var out datamodel.Perms
	for _, r := range a.roles {
		var param, obj, inst, cmd datamodel.Perms
		for _, p := range r.perms {
			if p.matches(path) {
				param, obj, inst, cmd = p.param, p.obj, p.inst, p.cmd
			}
		}
		out |= param | obj | inst | cmd
	}
	return out
}

// TestPermsCacheAgrees: for Targets with and without instance numbers,
// aliases, search expressions and wildcards, the permissions of many
// paths, each asked twice (the second answer from the cache, possibly
// stored under another instance's path), are those computed without the
// cache (TR-369 "Access Control": a Permission naming one instance
// applies to that instance only).
func TestPermsCacheAgrees(t *testing.T) {
	all := newPerm(1, "Device.", "rw-n", "rw-n", "rw-n", "r-xn")
	cases := []struct {
		name    string
		targets []string
		numeric bool // a target names an instance number: those depths stay exact
	}{
		{"wildcards only", []string{"Device.LocalAgent.Subscription.*.ID", "Device.LocalAgent.Controller.{i}.", "*."}, false},
		{"no instance", []string{"Device.LocalAgent.", "Device.DeviceInfo.SerialNumber"}, false},
		{"instance number", []string{"Device.LocalAgent.Controller.1."}, true},
		{"instance parameter", []string{"Device.LocalAgent.Subscription.2.ID", "Device.LocalAgent.Controller.*.MTP.3."}, true},
		{"leading zero", []string{"Device.LocalAgent.Subscription.02."}, true},
		{"alias", []string{"Device.LocalAgent.Controller.[cpe-1]."}, true},
		{"search expression", []string{"Device.LocalAgent.Subscription.[ID==\"a.1\"].Enable"}, true},
		{"mixed", []string{"Device.LocalAgent.Subscription.*.", "Device.LocalAgent.Controller.1.MTP.*.Enable", "Device.*.Controller.2."}, true},
	}
	var paths []string
	for _, base := range []string{"Device.LocalAgent.Subscription.", "Device.LocalAgent.Controller.", "Device.DeviceInfo."} {
		paths = append(paths, base, base+"*.", base+"{i}.", base+"0.", base+"00.", base+"x.", base+"[cpe-1].", base+"4294967296.",
			base+"4294967295.", base+"99999999999999999999.", base+"1x.", base+"-1.", base+"+1.")
		for i := 1; i <= 5; i++ {
			n := fmt.Sprint(i)
			paths = append(paths, base+n+".", base+n+".ID", base+n+".Enable", base+"0"+n+".", base+n+".MTP.", base+n+".MTP.3.",
				base+n+".MTP.3.Enable", base+n+".MTP.*.Enable", base+"*.MTP."+n+".", base+n+".SendOnBoardRequest()")
		}
	}
	paths = append(paths, "", ".", "Device.", "Device", "Device.LocalAgent.EndpointID", "Device.1.Controller.2.", "Device.1.Controller.3.")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var perms []perm
			for i, tg := range tc.targets {
				perms = append(perms, newPerm(uint64(i+2), tg, "r---", "r---", "r---", "----"))
			}
			l := newACL()
			l.set(map[string]*role{"full": {perms: []perm{all}}, "R": {perms: append([]perm{newPerm(1, "Device.", "----", "----", "----", "----")}, perms...)}},
				map[string][]string{"c": {"R"}, "d": {"R", "full"}}, nil)
			for _, id := range []string{"c", "d"} {
				a := l.forController(id).(*access)
				if (a.keep != 0) != tc.numeric {
					t.Errorf("%s: depths kept %b, want some: %v", id, a.keep, tc.numeric)
				}
				for range 2 {
					for _, p := range paths {
						if got, want := a.Perms(p), uncachedPerms(a, p); got != want {
							t.Errorf("%s: Perms(%q) = %v, want %v", id, p, got, want)
						}
					}
				}
			}
		})
	}
}

// TestPermsCacheStaysSmall: asking the permissions of the parameters of
// 10,000 rows keeps one cache entry per schema path when no target names
// an instance, and the bound of 4,096 when one does.
func TestPermsCacheStaysSmall(t *testing.T) {
	a := benchAccess()
	for i := range 10000 {
		for _, p := range []string{"Enable", "ID", "NotifType"} {
			a.Perms(fmt.Sprintf("Device.LocalAgent.Subscription.%d.%s", i+1, p))
		}
		a.Perms(fmt.Sprintf("Device.LocalAgent.Subscription.%d.", i+1))
	}
	if n := len(a.cache); n != 4 {
		t.Errorf("%d cache entries after 10,000 rows, want 4", n)
	}
	if got := a.Perms("Device.LocalAgent.Subscription.77.ID"); got != datamodel.ParamRead|datamodel.ObjRead|datamodel.InstRead|datamodel.CmdRead {
		t.Errorf("ID: %v", got)
	}

	l := newACL()
	l.set(map[string]*role{"R": {perms: []perm{
		newPerm(1, "Device.", "rw-n", "rw-n", "rw-n", "r-xn"),
		newPerm(2, "Device.LocalAgent.Subscription.7.", "r---", "r---", "r---", "r---"),
	}}}, map[string][]string{"c": {"R"}}, nil)
	b := l.forController("c").(*access)
	for i := range 10000 {
		b.Perms(fmt.Sprintf("Device.LocalAgent.Subscription.%d.Enable", i+1))
	}
	if n := len(b.cache); n > 4096 {
		t.Errorf("%d cache entries, want at most 4,096", n)
	}
	if got := b.Perms("Device.LocalAgent.Subscription.7.Enable"); got&datamodel.ParamWrite != 0 {
		t.Errorf("instance 7 writable: %v", got)
	}
	if got := b.Perms("Device.LocalAgent.Subscription.8.Enable"); got&datamodel.ParamWrite == 0 {
		t.Errorf("instance 8 not writable: %v", got)
	}
	if a := testing.AllocsPerRun(100, func() { b.Perms("Device.LocalAgent.Subscription.9.Enable") }); a != 0 {
		t.Errorf("%.0f allocations per cached Perms", a)
	}
}

// TestNumericAgrees: numeric judges instance numbers as isInstance does.
func TestNumericAgrees(t *testing.T) {
	for _, s := range []string{"", "0", "00", "1", "01", "007", "42", "4294967295", "4294967296", "04294967295",
		"99999999999999999999", "1x", "x1", "-1", "+1", " 1", "1_0", "{i}", "*", "Enable", "[cpe-1]"} {
		want := isInstance(s) && s != "{i}"
		if got := numeric(s); got != want {
			t.Errorf("numeric(%q) = %v, want %v", s, got, want)
		}
	}
}
