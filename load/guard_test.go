package load

import (
	"errors"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url    string
		remote bool
		want   error
	}{
		{"http://127.0.0.1:8080/oauth/token", false, nil},
		{"http://127.9.9.9/t", false, nil},
		{"http://localhost/t", false, nil},
		{"http://[::1]:9000/t", false, nil},
		{"https://auth.example.com/oauth/token", false, ErrRemote},
		{"http://10.0.0.1/t", false, ErrRemote},
		{"http://127.0.0.1.nip.io/t", false, ErrRemote},
		{"https://auth.example.com/oauth/token", true, nil},
	}
	for _, tt := range tests {
		if err := CheckLoopback("TARGET", tt.url, tt.remote); !errors.Is(err, tt.want) {
			t.Errorf("CheckLoopback(%q, remote=%v) = %v, want %v", tt.url, tt.remote, err, tt.want)
		}
	}
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/oauth/token":             "http://127.0.0.1:8080/oauth/token",
		"https://user:pw@auth.example/token":            "https://auth.example/token",
		"https://auth.example/token?api_key=s3cr3t&x=1": "https://auth.example/token?api_key=%5BREDACTED%5D&x=%5BREDACTED%5D",
		"http://127.0.0.1/t#s=1":                        "http://127.0.0.1/t#s=1",
	} {
		if got := PublicURL(in); got != want {
			t.Errorf("PublicURL(%q) = %q, want %q", in, got, want)
		}
	}
}
