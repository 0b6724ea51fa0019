//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/jwkspub/jwkspub/publish/publishtest"
	"github.com/jwkspub/jwkspub/publish/served"
)

// TestCORSAzurite: a store sends Access-Control-Allow-Origin only to a request with an Origin
// header that its CORS rules allow. CheckCORS (verify --url --cors-origin) sends one, fails
// before the account has a CORS rule, and passes once the rule the README shows is set.
func TestCORSAzurite(t *testing.T) {
	conn := need(t, "AZURE_STORAGE_CONNECTION_STRING")
	ctx := context.Background()
	s := stores(t)[2]
	tg, name := freshTarget(t, s)
	if _, err := publishTo(ctx, tg, publishtest.Keys(t, 1), t0, nil); err != nil {
		t.Fatal(err)
	}
	u := s.httpURL(name, jwksKey)
	const origin = "https://app.example.com"

	svc, err := service.NewClientFromConnectionString(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	setRules := func(rules []*service.CORSRule) {
		t.Helper()
		// An empty list clears the account's rules (the second run of this test relies on it).
		if _, err := svc.SetProperties(ctx, &service.SetPropertiesOptions{CORS: rules}); err != nil {
			t.Fatalf("setting CORS rules: %v", err)
		}
	}
	str := func(s string) *string { return &s }
	age := int32(3600)
	t.Cleanup(func() { setRules([]*service.CORSRule{}) })

	setRules([]*service.CORSRule{})
	err = served.CheckCORS(ctx, nil, u, origin)
	if err == nil || !strings.Contains(err.Error(), "no Access-Control-Allow-Origin for Origin "+origin) {
		t.Fatalf("without a CORS rule: %v", err)
	}
	setRules([]*service.CORSRule{{AllowedOrigins: str(origin), AllowedMethods: str("GET,HEAD"),
		AllowedHeaders: str(""), ExposedHeaders: str(""), MaxAgeInSeconds: &age}})
	if err := served.CheckCORS(ctx, nil, u, origin); err != nil {
		t.Fatalf("with a CORS rule for %s: %v", origin, err)
	}
	err = served.CheckCORS(ctx, nil, u, "https://other.example.com")
	if err == nil {
		t.Fatal("an origin the rule does not allow passed")
	}
}
