package endpoint_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uspkit/uspkit/endpoint"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		part string // "" when valid
	}{
		// Examples of [R-ARC.2a].
		{"oui:00256D:my-unique-bbf-id-42", ""},
		{"cid:3AA3F8:my-unique-usp-id-42", ""},
		{"pen:3561:my-unique-bbf-id-42", ""},
		{"self::my-Agent", ""},
		{"self:abc123:x", ""},
		{"user::assigned", ""},
		{"user:u.1:assigned", ""},
		{"os::00256D-0123456789", ""},
		{"os::00D09E-SN%2D12", ""},
		{"ops::00256D-STB-0123456789", ""},
		{"uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bf6", ""},
		{"imei::990000862471854", ""},
		{"proto::my-Agent", ""},
		{"proto:p1:x", ""},
		{"doc::example", ""},
		{"doc:d.1:example", ""},
		{"fqdn::www.example.org", ""},
		{"self::" + strings.Repeat("a", 50), ""},
		{"self::a%41b", ""},

		{"", "scheme"},
		{"self", "scheme"},
		{"self:x", "authority-id"},
		{"bogus::x", "scheme"},
		{"SELF::x", "scheme"},
		{"self::", "instance-id"},
		{"self::" + strings.Repeat("a", 51), "instance-id"},
		{"self::a b", "instance-id"},
		{"self::a:b", "instance-id"},
		{"self::a%4", "instance-id"},
		{"self::a%zz", "instance-id"},
		{"self::é", "instance-id"},
		{"self:1234567:x", "authority-id"},
		{"self:a/b:x", "authority-id"},
		{"oui:00256:x", "authority-id"},
		{"oui:00256G:x", "authority-id"},
		{"oui::x", "authority-id"},
		{"cid:3AA3F8F:x", "authority-id"},
		{"pen::x", "authority-id"},
		{"pen:35a:x", "authority-id"},
		{"pen:0123:x", "authority-id"},
		{"user:1234567:x", "authority-id"},
		{"proto:a.b:x", "authority-id"},
		{"os:00256D:00256D-1", "authority-id"},
		{"os::00256D", "instance-id"},
		{"os::00256D-A-B", "instance-id"},
		{"os::XYZ-1", "instance-id"},
		{"os::00256D-", "instance-id"},
		{"ops::00256D-STB", "instance-id"},
		{"ops::00256D-STB-", "instance-id"},
		{"uuid::f81d4fae7dec11d0a76500a0c91e6bf6", "instance-id"},
		{"uuid::f81d4fae-7dec-11d0-a765-00a0c91e6bfg", "instance-id"},
		{"uuid:x:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", "authority-id"},
		{"imei::9900008624718555", "instance-id"},
		{"imei::99000086247185", "instance-id"},
		{"imei::99000086247185a", "instance-id"},
		{"fqdn::localhost", "instance-id"},
		{"fqdn::-bad.example.org", "instance-id"},
		{"fqdn::a..b", "instance-id"},
		{"fqdn::a_b.example", "instance-id"},
		{"fqdn::%2A.example.org", "instance-id"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id, err := endpoint.Parse(tt.in)
			if tt.part == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if id.String() != tt.in {
					t.Errorf("String() = %q", id.String())
				}
				return
			}
			var e *endpoint.Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %v, want *endpoint.Error", err)
			}
			if e.Part != tt.part || e.Reason == "" {
				t.Errorf("error part %q (%s), want %q", e.Part, e.Reason, tt.part)
			}
			if e.USPErrorCode() != 7004 {
				t.Errorf("code %d", e.USPErrorCode())
			}
		})
	}
}

func TestURN(t *testing.T) {
	id, err := endpoint.ParseURN("urn:bbf:usp:id:oui:00256D:agent-1")
	if err != nil || id.Scheme != endpoint.SchemeOUI || id.Authority != "00256D" || id.Instance != "agent-1" {
		t.Fatalf("ParseURN = %+v, %v", id, err)
	}
	if id.URN() != "urn:bbf:usp:id:oui:00256D:agent-1" {
		t.Errorf("URN() = %q", id.URN())
	}
	if _, err := endpoint.ParseURN("URN:BBF:USP:ID:self::x"); err != nil {
		t.Errorf("case-insensitive prefix: %v", err)
	}
	for _, bad := range []string{"self::x", "urn:bbf:usp:", "urn:bbf:usp:id:nope::x"} {
		if _, err := endpoint.ParseURN(bad); err == nil {
			t.Errorf("ParseURN(%q) succeeded", bad)
		}
	}
}

func TestBuilders(t *testing.T) {
	tests := []struct {
		id   endpoint.ID
		want string
	}{
		{endpoint.ForOS("00d09e", "SN-1 2"), "os::00D09E-SN%2D1%202"},
		{endpoint.ForOPS("00D09E", "HG-1", "abc"), "ops::00D09E-HG%2D1-abc"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		if err := endpoint.Validate(tt.id.String()); err != nil {
			t.Errorf("built ID invalid: %v", err)
		}
	}
}
