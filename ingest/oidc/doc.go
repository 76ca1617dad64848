// Package oidc normalizes OpenID Connect ID tokens into authentications of
// their subject, for deployments where the identity provider's own logs are
// out of reach but a reverse proxy or Airflow's auth layer sees each user's
// ID token (`keytrail serve` takes them at POST /v1/ingest/oidc).
//
// A record is the token in a one-field JSON envelope, {"id_token":"<JWS>"}:
// the token's bytes are kept verbatim inside it, and the envelope travels
// through every splitter of JSON records (ingest.Split, the bus sink). The
// normalizer reads the claims without checking the signature: the intake
// verifies every token against its issuer (discovery, JWKS, audience,
// expiry, algorithms) before it is published, and a file given to
// `keytrail ingest --source oidc` is trusted like any other export.
//
// The event id is the issuer and the token's jti ("<iss>#<jti>"), or the
// issuer and the SHA-256 of the token when it has no jti, so a token handed
// over twice is stored once. The time is auth_time (when the user actually
// authenticated), else iat. The subject is sub; the email is email, else
// preferred_username, else upn. The factor comes from the amr claim
// (RFC 8176 values plus Okta's and Entra's, see amrMethods): the strongest
// method named wins, in the order of model.Factors. hwk is a hardware-backed
// security key; pop (Okta's WebAuthn and FastPass) and fido (Entra's FIDO2)
// are WebAuthn whose hardware is undecided; face, fpt and the other
// biometrics, and Entra's ngcmfa (Windows Hello for Business), are platform
// credentials. An acr of phrh (OpenID EAP: phishing-resistant,
// hardware-protected) makes a WebAuthn or platform assertion
// hardware-backed. Every amr value is kept in Methods, acr and the token's
// hash in Detail.
package oidc
