-- The ifNotExists template renders IF NOT EXISTS where the engine accepts it
-- after ADD COLUMN (not on ClickHouse 18.16, where the ledger alone applies
-- this migration once).

-- Who an identity-provider event is about: user (the empty value of older
-- rows means user too), service (service principals, managed identities,
-- client-credential logins) or system (the provider acting on its own).
-- Events of services and of the provider are stored as evidence; keytrail
-- never infers a person from them.
ALTER TABLE auth_events ADD COLUMN {{ifNotExists}} principal String DEFAULT '';

-- What a registered credential authenticates as: webauthn (a security key),
-- platform (a device-bound platform credential: Windows Hello, Touch ID, an
-- authenticator app's passkey), passkey_synced, totp…; empty when unknown.
ALTER TABLE authenticators ADD COLUMN {{ifNotExists}} factor String DEFAULT '';
