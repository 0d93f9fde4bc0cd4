package codes

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDeviceCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := DeviceCommands{
		Approve: `test "$OAUTH_USER_CODE" = ABCD-EFGH && test "$OAUTH_CLIENT_ID" = dev && touch ` + dir + `/approved`,
		Deny:    `echo "no such user_code" >&2; exit 3`,
	}
	r := DeviceRequest{UserCode: "ABCD-EFGH", ClientID: "dev"}
	if err := c.Decide(context.Background(), r, Approve); err != nil {
		t.Fatalf("approve: %v", err)
	}
	err := c.Decide(context.Background(), r, Deny)
	if !errors.Is(err, ErrDecide) || !strings.Contains(err.Error(), "DEVICE_DENY_CMD exited with status 3: no such user_code") {
		t.Errorf("deny: %v", err)
	}
	if err := (DeviceCommands{}).Decide(context.Background(), r, Approve); err == nil || !strings.Contains(err.Error(), "DEVICE_APPROVE_CMD is empty") {
		t.Errorf("empty command: %v", err)
	}
}

func TestDeviceVerifier(t *testing.T) {
	t.Parallel()
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		got = append(got, r.PostForm.Get("user_code")+" "+r.PostForm.Get("decision")+" "+r.Header.Get("X-Extra"))
		if r.PostForm.Get("user_code") == "BAD" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	v := DeviceVerifier{URL: srv.URL}
	h := http.Header{"X-Extra": {"1"}}
	if err := v.Decide(context.Background(), DeviceRequest{UserCode: "WXYZ", Header: h}, Deny); err != nil {
		t.Fatal(err)
	}
	err := v.Decide(context.Background(), DeviceRequest{UserCode: "BAD"}, Approve)
	if !errors.Is(err, ErrDecide) || !strings.Contains(err.Error(), "status 400") {
		t.Errorf("refused decision: %v", err)
	}
	if strings.Join(got, ",") != "WXYZ deny 1,BAD approve " {
		t.Errorf("requests: %q", got)
	}
}
