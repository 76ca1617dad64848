// Package aaguid decides whether a WebAuthn credential is hardware-backed from
// its authenticator's AAGUID.
//
// It ships a curated table (curated.csv, embedded) of real AAGUIDs taken from
// the community passkey-authenticator-aaguids list, the FIDO Metadata Service
// and Microsoft's documentation, each classed as:
//
//   - hardware: a roaming security key (YubiKey, Security Key by Yubico,
//     Feitian, SoloKeys, Google Titan, Nitrokey, Thales, HID, Token2…);
//   - platform-hardware: a platform authenticator whose private key is bound
//     to a TPM or Secure Enclave and never leaves the device (Windows Hello
//     hardware/VBS-hardware, Chrome and Edge on macOS). These count as
//     hardware by default because the key is non-exportable, but they are
//     flagged Platform so an operator who accepts only roaming keys can Deny
//     them;
//   - platform: device-bound but software-held (Windows Hello software
//     authenticators, Microsoft Authenticator, Chromium's own
//     authenticator): not hardware;
//   - synced: a passkey provider that syncs keys through a cloud account
//     (iCloud Keychain, Google Password Manager, 1Password, Bitwarden,
//     Dashlane, Proton Pass, KeePassXC…): never hardware.
//
// Operators extend the table with a FIDO MDS3 blob (ImportMDS3, signature and
// certificate chain verified when a root is given) and override it with allow
// and deny lists. AAGUIDs are compared lower-case.
//
// Decide is the one place the hardware decision is made; see its doc for the
// order of evidence.
package aaguid
