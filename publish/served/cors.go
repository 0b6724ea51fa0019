package served

import (
	"context"
	"fmt"
	"net/http"
)

// CheckCORS fetches rawURL as a browser script on origin would, with an Origin header, and
// requires the answer to allow that origin (Access-Control-Allow-Origin "*" or origin).
// Object stores send the header only when the request has an Origin and the bucket has a CORS
// configuration that matches it, so a plain fetch cannot tell.
func CheckCORS(ctx context.Context, client *http.Client, rawURL, origin string) error {
	_, h, err := fetchOK(ctx, client, rawURL, http.Header{"Origin": {origin}})
	if err != nil {
		return err
	}
	switch allow := h.Get("Access-Control-Allow-Origin"); allow {
	case "*", origin:
		return nil
	case "":
		return fmt.Errorf("%s: CORS: no Access-Control-Allow-Origin for Origin %s, so browser clients on that origin cannot read the JWKS (fix: add a CORS rule allowing GET from %s to the bucket or CDN; see the README)", rawURL, origin, origin)
	default:
		return fmt.Errorf("%s: CORS: Access-Control-Allow-Origin is %q, not %s (fix: allow GET from %s in the bucket's or CDN's CORS rules)", rawURL, allow, origin, origin)
	}
}
