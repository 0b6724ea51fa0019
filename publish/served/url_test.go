package served

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOneURLRule: the public URL of diff --against, the URL verify fetches and an issuer obey
// one rule, https or http on loopback. Before, the issuer's copy refused 127.0.0.2 and
// [::ffff:127.0.0.1], which the other two accepted.
func TestOneURLRule(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://auth.example.com/x", true},
		{"http://localhost/x", true},
		{"http://127.0.0.1:8080/x", true},
		{"http://127.0.0.2/x", true},
		{"http://127.255.255.254/x", true},
		{"http://[::1]/x", true},
		{"http://[::ffff:127.0.0.1]/x", true},
		{"http://auth.example.com/x", false},
		{"http://10.0.0.1/x", false},
		{"http://localhost.example.com/x", false},
		{"http://[::2]/x", false},
		{"ftp://auth.example.com/x", false},
		{"https:///x", false},
		{"http:///x", false},
		{"/relative", false},
	}
	checks := map[string]func(string) error{"CheckFetchURL": CheckFetchURL, "CheckPublicURL": CheckPublicURL, "ValidateIssuer": ValidateIssuer}
	for _, tt := range tests {
		for name, check := range checks {
			if err := check(tt.url); (err == nil) != tt.ok {
				t.Errorf("%s(%q) = %v, want ok=%v", name, tt.url, err, tt.ok)
			}
		}
	}
}

// TestRedirectObeysTheRule: the fetcher follows a redirect only to a URL the rule accepts,
// whatever called it (verify, drift, CORS, diff --against).
func TestRedirectObeysTheRule(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, "http://jwks.example.com/jwks.json", http.StatusFound)
		default:
			w.Write([]byte(`{"keys":[]}`))
		}
	}))
	t.Cleanup(srv.Close)
	_, err := Get(context.Background(), srv.Client(), srv.URL+"/away", nil)
	if !errors.Is(err, ErrInsecureURL) || !strings.Contains(err.Error(), "redirect") {
		t.Errorf("redirect to plain http off loopback: %v, want a refusal", err)
	}
	resp, err := Get(context.Background(), srv.Client(), srv.URL+"/doc", nil)
	if err != nil || resp.StatusCode != http.StatusOK || string(resp.Body) != `{"keys":[]}` {
		t.Errorf("Get = %+v, %v", resp, err)
	}
}
