-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS; schema.Migrate skips an
-- ADD COLUMN whose column exists, so a re-run is idempotent.

-- Who an identity-provider event is about: user (the empty value of older
-- rows means user too), service (service principals, managed identities,
-- client-credential logins) or system (the provider acting on its own).
-- Events of services and of the provider are stored as evidence; keytrail
-- never infers a person from them.
ALTER TABLE auth_events ADD COLUMN principal String DEFAULT '';

-- What a registered credential authenticates as: webauthn (a security key),
-- platform (a device-bound platform credential: Windows Hello, Touch ID, an
-- authenticator app's passkey), passkey_synced, totp…; empty when unknown.
ALTER TABLE authenticators ADD COLUMN factor String DEFAULT '';
