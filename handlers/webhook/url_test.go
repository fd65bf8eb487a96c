package webhook

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestValidateURL(t *testing.T) {
	valid := []struct {
		raw          string
		allowPrivate bool
	}{
		{"https://hooks.example.com/tenantdesk", false},
		{"http://example.com:8080/x?y=1&z=%20", false},
		{"HTTPS://EXAMPLE.COM", false},
		{"https://a.b-c.example./", false},
		{"https://xn--bcher-kva.example/", false},
		{"https://my_service.example/", false},
		{"https://receiver/", false}, // a one-label name: resolved, and checked, at delivery
		{"https://localhost:3000/", false},
		{"https://93.184.215.14/", false},
		{"https://[2606:4700::1111]:8443/", false},
		{"https://[64:ff9b::808:808]/", false}, // NAT64 form of a public address
		{"http://127.0.0.1:8080/", true},
		{"http://10.1.2.3/", true},
		{"http://[::1]:9000/", true},
		{"http://[fd12::1]/", true},
		{"http://100.64.1.1/", true},
		{"https://x.example:65535/", false},
	}
	for _, tt := range valid {
		u, err := ValidateURL(tt.raw, tt.allowPrivate)
		if err != nil || u == nil {
			t.Errorf("ValidateURL(%q, %v) = %v", tt.raw, tt.allowPrivate, err)
		}
	}
	invalid := []struct {
		raw          string
		allowPrivate bool
		kind         URLKind
	}{
		{"", false, URLRequired},
		{"https://x.example/" + strings.Repeat("a", MaxURLLength), false, URLTooLong},
		{"ftp://x.example", false, URLScheme},
		{"javascript:alert(1)", false, URLScheme},
		{"//x.example/", false, URLScheme},
		{"x.example", false, URLScheme},
		{"https://user:pw@x.example/", false, URLUserinfo},
		{"https://user@x.example/", false, URLUserinfo},
		{"https:///x", false, URLHost},
		{"https:x.example", false, URLHost},
		{"https://x.example/#frag", false, URLFragment},
		{"https://x.example/#", false, URLFragment},
		{"https://x.example:0/", false, URLPort},
		{"https://x.example:65536/", false, URLPort},
		{"https://x.example:08080/", false, URLPort},
		{"https://x.example:/", false, URLPort},
		{"https://[::1]:99999/", true, URLPort},
		{"https://x .example/", false, URLSyntax},
		{" https://x.example/", false, URLSyntax},
		{"https://x.example/\n", false, URLSyntax},
		{"https://bücher.example/", false, URLSyntax},
		{`https://x.example\@evil.example/`, false, URLSyntax},
		{"https://x.example/%zz", false, URLSyntax},
		// Numeric spellings of 127.0.0.1 that resolvers built on inet_aton accept.
		{"http://2130706433/", true, URLHost},
		{"http://0177.0.0.1/", true, URLHost},
		{"http://0x7f.0.0.1/", true, URLHost},
		{"http://0x7f000001/", true, URLHost},
		{"http://127.1/", true, URLHost},
		{"http://127.0.0.01/", true, URLHost},
		{"http://1.2.3.4.5/", false, URLHost},
		{"http://-x.example/", false, URLHost},
		{"http://a..b.example/", false, URLHost},
		{"http://" + strings.Repeat("a", 64) + ".example/", false, URLHost},
		{"http://[fe80::1%25eth0]/", true, URLHost},
		{"http://[1.2.3.4]/", false, URLSyntax},
		// Literal addresses deliveries may not go to.
		{"http://127.0.0.1/", false, URLAddress},
		{"http://[::1]/", false, URLAddress},
		{"http://0.0.0.0/", false, URLAddress},
		{"http://0.0.0.0/", true, URLAddress},
		{"http://[::]/", true, URLAddress},
		{"http://169.254.169.254/latest/meta-data/", false, URLAddress},
		{"http://169.254.169.254/latest/meta-data/", true, URLAddress},
		{"http://[fd00:ec2::254]/", true, URLAddress},
		{"http://[::ffff:127.0.0.1]/", false, URLAddress},
		{"http://[::ffff:7f00:1]/", false, URLAddress},
		{"http://[64:ff9b::7f00:1]/", true, URLAddress},
		{"http://10.0.0.1/", false, URLAddress},
		{"http://172.16.0.1/", false, URLAddress},
		{"http://192.168.1.1/", false, URLAddress},
		{"http://100.64.0.1/", false, URLAddress},
		{"http://224.0.0.1/", true, URLAddress},
		{"http://[ff02::1]/", true, URLAddress},
		{"http://[fe80::1]/", true, URLAddress},
	}
	for _, tt := range invalid {
		_, err := ValidateURL(tt.raw, tt.allowPrivate)
		var e *URLError
		if !errors.As(err, &e) || e.Kind != tt.kind || e.Field != URLField {
			t.Errorf("ValidateURL(%q, %v) = %v, want kind %s", tt.raw, tt.allowPrivate, err, tt.kind)
		}
	}
}

func TestCheckAddr(t *testing.T) {
	tests := []struct {
		addr                 string
		strict, allowPrivate bool // whether each mode allows it
	}{
		{"8.8.8.8", true, true},
		{"93.184.215.14", true, true},
		{"2606:4700::1111", true, true},
		{"64:ff9b::808:808", true, true}, // NAT64 of 8.8.8.8
		{"::ffff:8.8.8.8", true, true},   // IPv4-mapped 8.8.8.8
		{"127.0.0.1", false, true},
		{"127.255.255.254", false, true},
		{"::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"10.0.0.1", false, true},
		{"172.16.0.1", false, true},
		{"172.31.255.255", false, true},
		{"192.168.0.1", false, true},
		{"100.64.0.1", false, true},
		{"100.127.255.255", false, true},
		{"fc00::1", false, true},
		{"fd12:3456::1", false, true},
		{"172.32.0.1", true, true}, // just outside 172.16.0.0/12
		{"100.128.0.1", true, true},
		// Refused whatever AllowPrivate says.
		{"169.254.169.254", false, false},
		{"169.254.0.1", false, false},
		{"fd00:ec2::254", false, false},
		{"fe80::1", false, false},
		{"0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"::", false, false},
		{"224.0.0.1", false, false},
		{"239.255.255.250", false, false},
		{"ff02::1", false, false},
		{"255.255.255.255", false, false},
		{"240.0.0.1", false, false},
		{"192.0.2.1", false, false},
		{"198.18.0.1", false, false},
		{"2001:db8::1", false, false},
		{"2002:7f00:1::", false, false}, // 6to4 of 127.0.0.1
		{"2001::1", false, false},       // Teredo
		{"64:ff9b::7f00:1", false, false},
		{"64:ff9b::a00:1", false, false}, // NAT64 of 10.0.0.1: never opened
		{"64:ff9b:1::1", false, false},   // local-use NAT64
		{"::ffff:169.254.169.254", false, false},
		{"::7f00:1", false, false}, // IPv4-compatible 127.0.0.1
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		for _, mode := range []struct {
			allowPrivate, want bool
		}{{false, tt.strict}, {true, tt.allowPrivate}} {
			err := checkAddr(a, mode.allowPrivate)
			if (err == nil) != mode.want {
				t.Errorf("checkAddr(%s, allowPrivate=%v) = %v, want allowed=%v", tt.addr, mode.allowPrivate, err, mode.want)
			}
			if err != nil {
				var re *RefusedError
				if !errors.As(err, &re) || re.Err == nil {
					t.Errorf("checkAddr(%s) error %#v is not a *RefusedError with a rule", tt.addr, err)
				}
			}
		}
	}
}
