// Package aaguid decides what a WebAuthn credential is — a roaming security
// key, a device-bound platform credential or a synced passkey — and whether it
// is hardware-backed, from its authenticator's AAGUID.
//
// It ships a curated table (curated.csv, embedded) of real AAGUIDs taken from
// the community passkey-authenticator-aaguids list, the FIDO Metadata Service
// and Microsoft's documentation, each classed as:
//
//   - security-key: a roaming security key (YubiKey, Security Key by Yubico,
//     Feitian, SoloKeys, Google Titan, Nitrokey, Thales, HID, Token2…):
//     hardware, and the only class whose taps keytrail counts by default;
//   - platform: a device-bound platform authenticator whose private key is
//     bound to a TPM or Secure Enclave (Windows Hello hardware/VBS-hardware,
//     Chrome and Edge on macOS with Touch ID). The key is hardware-bound, but
//     it is not a security-key tap: Decide gives it the factor platform,
//     which the correlation policy counts only when its hardware_factors name
//     platform (default: not);
//   - platform-software: device-bound but software-held (Windows Hello
//     software authenticators, Microsoft Authenticator, Chromium's own
//     authenticator): factor platform, not hardware;
//   - synced: a passkey provider that syncs keys through a cloud account
//     (iCloud Keychain, Google Password Manager, 1Password, Bitwarden,
//     Dashlane, Proton Pass, KeePassXC…): factor passkey_synced, never
//     hardware.
//
// Operators extend the table with a FIDO MDS3 blob (ImportMDS3, signature and
// certificate chain verified when a root is given) and override it with allow
// and deny lists. AAGUIDs are compared lower-case.
//
// Decide is the one place the decision — security key, platform credential or
// synced passkey, and hardware or not — is made; see its doc for the order of
// evidence.
package aaguid
