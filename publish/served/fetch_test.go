package served

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCheckFetchURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://auth.example.com/.well-known/jwks.json", true},
		{"http://127.0.0.1:8080/jwks.json", true},
		{"http://[::1]:8080/jwks.json", true},
		{"http://localhost/jwks.json", true},
		{"http://auth.example.com/.well-known/jwks.json", false},
		{"http://10.0.0.1/jwks.json", false},
		{"http://127.0.0.1.example.com/jwks.json", false},
		{"ftp://auth.example.com/jwks.json", false},
		{"file:///etc/jwks.json", false},
		{"https:///jwks.json", false},
	}
	for _, tt := range tests {
		err := CheckFetchURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckFetchURL(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	if err := CheckFetchURL("http://auth.example.com/jwks.json"); !errors.Is(err, ErrInsecureURL) || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("refusal does not say why: %v", err)
	}
}

// TestFetch uses httptest to inject the server's faults.
func TestFetch(t *testing.T) {
	doc := `{"keys":[]}`
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, doc) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat(" ", 1<<20)
		for range MaxDocumentSize>>20 + 1 {
			fmt.Fprint(w, chunk)
		}
	})
	mux.HandleFunc("/to-http", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://jwks.example.com/jwks.json", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	ctx := context.Background()

	got, err := Fetch(ctx, srv.Client(), srv.URL+"/jwks.json")
	if err != nil || string(got) != doc {
		t.Fatalf("Fetch(loopback http) = %q, %v", got, err)
	}
	if got, err := Fetch(ctx, tls.Client(), tls.URL+"/jwks.json"); err != nil || string(got) != doc {
		t.Fatalf("Fetch(https) = %q, %v", got, err)
	}
	for _, tt := range []struct{ path, want string }{
		{"/missing", "status 404"},
		{"/huge", "larger than"},
		{"/to-http", "insecure JWKS URL"},
	} {
		if _, err := Fetch(ctx, tls.Client(), tls.URL+tt.path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Fetch(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Fetch(cctx, srv.Client(), srv.URL+"/jwks.json"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Fetch = %v", err)
	}
}
