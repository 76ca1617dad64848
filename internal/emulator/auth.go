package emulator

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keytrail/keytrail/collect/oauth"
)

// verifyAssertion checks a client's RS256 JWT assertion (RFC 7523): signed
// by the credentials' key, issued by iss, for an audience ending in
// audPath, not expired.
func verifyAssertion(jwt string, creds Credentials, iss, audPath string, now time.Time) error {
	if creds.Key == nil {
		return errors.New("no key configured")
	}
	claims, err := oauth.Verify(jwt, &creds.Key.PublicKey)
	if err != nil {
		return err
	}
	if claims["iss"] != iss {
		return fmt.Errorf("iss %v: not %s", claims["iss"], iss)
	}
	aud, _ := claims["aud"].(string)
	if !strings.HasSuffix(aud, audPath) {
		return fmt.Errorf("aud %q: want the token endpoint", aud)
	}
	exp, _ := claims["exp"].(float64)
	if exp == 0 || now.After(time.Unix(int64(exp), 0)) {
		return errors.New("assertion expired")
	}
	return nil
}
