#!/usr/bin/env python3
"""Generates the Okta fixtures. Field layout follows the LogEvent object in
Okta's System Log API reference (developer.okta.com, okta-developer-docs
system-log/index.md) and Event Hook docs; ids and people are made up."""
import json, copy

def ev(uuid, published, etype, actor=("00u1a2b3c4D5e6F7g8h9", "alice@example.com", "Alice Example"),
       result="SUCCESS", reason=None, factor=None, targets=None, debug=None, session="102Mq8X3nWcR1e2vHxLvhGn2Q", cred_type=None):
    dd = {"requestId": "reqId-" + uuid[:8], "requestUri": "/idp/idx/challenge/answer", "url": "/idp/idx/challenge/answer?"}
    if factor: dd["factor"] = factor
    if debug: dd.update(debug)
    return {
        "uuid": uuid, "published": published, "eventType": etype, "version": "0", "severity": "INFO",
        "legacyEventType": None, "displayMessage": "Authentication of user via MFA",
        "actor": {"id": actor[0], "type": "User", "alternateId": actor[1], "displayName": actor[2], "detailEntry": None},
        "client": {"userAgent": {"rawUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36", "os": "Mac OS X", "browser": "CHROME"},
                   "zone": "null", "device": "Computer", "id": None, "ipAddress": "198.51.100.23",
                   "geographicalContext": {"city": "Berlin", "state": "Land Berlin", "country": "Germany", "postalCode": "10115", "geolocation": {"lat": 52.52, "lon": 13.40}}},
        "device": None,
        "authenticationContext": {"authenticationProvider": None, "credentialProvider": None, "credentialType": cred_type,
                                  "issuer": None, "interface": None, "authenticationStep": 0, "rootSessionId": "idxRootSess01", "externalSessionId": session},
        "outcome": {"result": result, "reason": reason},
        "securityContext": {"asNumber": 3320, "asOrg": "deutsche telekom ag", "isp": "deutsche telekom ag", "domain": "t-ipconnect.de", "isProxy": False},
        "debugContext": {"debugData": dd},
        "transaction": {"type": "WEB", "id": "Wn4f8xPz-" + uuid[:6], "detail": {}},
        "request": {"ipChain": [{"ip": "198.51.100.23", "geographicalContext": {"city": "Berlin", "country": "Germany"}, "version": "V4", "source": None}]},
        "target": targets or [],
    }

USER_T = {"id": "00u1a2b3c4D5e6F7g8h9", "type": "User", "alternateId": "alice@example.com", "displayName": "Alice Example", "detailEntry": None}
def enr(id, name, method, props):
    return {"id": id, "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": name,
            "detailEntry": {"methodTypeUsed": method, "methodUsedVerifiedProperties": props}}
APP = {"id": "0oa1airflowprod0001", "type": "AppInstance", "alternateId": "Airflow Production", "displayName": "Airflow Production", "detailEntry": {"signOnModeType": "OPENID_CONNECT"}}

page = [
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f50", "2024-05-14T09:12:03.512Z", "user.authentication.auth_via_mfa", factor="FIDO_WEBAUTHN",
     targets=[USER_T, enr("fwf1a2b3c4YubiKey001", "Security Key or Biometric", "Security Key or Biometric Authenticator (FIDO2)", "[USER_PRESENCE, USER_VERIFYING, PHISHING_RESISTANT, HARDWARE_PROTECTED, DEVICE_BOUND]")],
     debug={"keyTypeUsedForAuthentication": "CROSS_PLATFORM"}),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f51", "2024-05-14T09:12:01.100Z", "user.authentication.verify", factor="PASSWORD",
     targets=[USER_T, enr("lae1pwd0000000000001", "Password", "Password", "[USER_PRESENCE]")]),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f52", "2024-05-14T09:20:44.004Z", "user.authentication.auth_via_mfa", factor="OKTA_VERIFY_PUSH",
     actor=("00u9bob000000000000b", "bob@example.com", "Bob Example"),
     targets=[enr("opf3okv0000000000001", "Okta Verify", "Get a push notification", "[USER_PRESENCE]")]),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f53", "2024-05-14T09:21:10.000Z", "user.authentication.auth_via_mfa", factor="GOOGLE_AUTHENTICATOR_TOTP",
     actor=("00u9bob000000000000b", "bob@example.com", "Bob Example")),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f54", "2024-05-14T09:22:00.250Z", "user.authentication.auth_via_mfa", factor="SMS",
     actor=("00u9bob000000000000b", "bob@example.com", "Bob Example"), result="FAILURE", reason="INVALID_CREDENTIALS"),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f55", "2024-05-14T09:23:00.250Z", "user.authentication.verify", factor="EMAIL",
     actor=("00u9bob000000000000b", "bob@example.com", "Bob Example")),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f56", "2024-05-14T09:11:59.999Z", "user.session.start", cred_type="PASSWORD"),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f57", "2024-05-14T09:12:04.000Z", "user.authentication.sso", targets=[APP]),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f58", "2024-05-14T10:00:00.000Z", "user.mfa.factor.activate", factor="FIDO_WEBAUTHN",
     targets=[USER_T, enr("fwf1a2b3c4YubiKey001", "YubiKey 5 NFC", None, None)],
     debug={"aaguid": "FA2B99DC-9E39-4257-8F92-4A30D23C4118", "passkey": "false", "backupEligible": "false"}),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f59", "2024-05-14T10:05:00.000Z", "user.mfa.factor.activate", factor="FIDO_WEBAUTHN",
     actor=("00u9bob000000000000b", "bob@example.com", "Bob Example"),
     targets=[{"id": "00u9bob000000000000b", "type": "User", "alternateId": "bob@example.com", "displayName": "Bob Example"}, enr("fwf9bobIcloudPasskey", "iCloud Keychain", None, None)],
     debug={"aaguid": "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "passkey": "true", "backupEligible": "true"}),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f5a", "2024-05-14T11:00:00.000Z", "user.authentication.auth_via_mfa", factor="FIDO_WEBAUTHN",
     actor=("00u9bob000000000000b", "bob@example.com", "Bob Example"),
     targets=[enr("fwf9bobIcloudPasskey", "iCloud Keychain", "Security Key or Biometric Authenticator (FIDO2)", "[USER_PRESENCE, USER_VERIFYING, PHISHING_RESISTANT]")]),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f5b", "2024-05-15T08:00:00.000Z", "user.mfa.factor.deactivate", factor="FIDO_WEBAUTHN",
     actor=("00uadmin000000000001", "admin@example.com", "Okta Admin"),
     targets=[USER_T, enr("fwf1a2b3c4YubiKey001", "YubiKey 5 NFC", None, None)]),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f5c", "2024-05-15T08:30:00.000Z", "policy.evaluate_sign_on"),
  ev("a3f1c9e0-1b2c-11ef-9d3a-0b1c2d3e4f5d", "2024-05-15T08:31:00.000Z", "user.session.end"),
]
# An enrollment with no detailEntry clears the None placeholders.
for e in page:
    for t in e["target"]:
        if t.get("detailEntry") == {"methodTypeUsed": None, "methodUsedVerifiedProperties": None}:
            t["detailEntry"] = None

json.dump(page, open("logs_page.json", "w"), indent=2)
json.dump(page[0], open("single_event.json", "w"), indent=2)
hook = {"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1", "source": "https://example.okta.com/api/v1/eventHooks/who8xyzExampleHook",
        "eventId": "b5a188b9-5ece-4636-b041-482ffda96311", "eventTime": "2024-05-14T09:12:05.000Z", "contentType": "application/json",
        "data": {"events": [page[0], page[2]]}}
json.dump(hook, open("event_hook.json", "w"), indent=2)

# Edge cases, one per NDJSON line.
lines = []
for i, t in enumerate(["2024-05-14T09:12:03Z", "2024-05-14T09:12:03.5Z", "2024-05-14T09:12:03.51Z", "2024-05-14T09:12:03.512Z",
                       "2024-05-14T09:12:03.5123Z", "2024-05-14T09:12:03.51234+00:00", "2024-05-14T11:12:03.512345+02:00",
                       "2024-05-14T04:12:03.5123456-05:00", "2024-05-14T14:42:03.512+0530", "2024-05-14 09:12:03.512Z"]):
    e = copy.deepcopy(page[0]); e["uuid"] = "c0ffee00-0000-4000-8000-%012d" % i; e["published"] = t
    lines.append(json.dumps(e))
dup = copy.deepcopy(page[1]); lines.append(json.dumps(dup)); lines.append(json.dumps(dup))  # duplicate id
e = copy.deepcopy(page[1]); del e["uuid"]; lines.append(json.dumps(e))                      # missing uuid
e = copy.deepcopy(page[1]); e["uuid"] = "d00d0000-0000-4000-8000-000000000001"; del e["published"]; lines.append(json.dumps(e))
e = copy.deepcopy(page[1]); e["uuid"] = "d00d0000-0000-4000-8000-000000000002"; e["published"] = "yesterday"; lines.append(json.dumps(e))
lines.append(json.dumps({"uuid": "d00d0000-0000-4000-8000-000000000003", "published": "2024-05-14T09:12:03.512Z", "eventType": "some.future.event"}))
lines.append('{"uuid": "truncated"')
lines.append(json.dumps({"uuid": 42, "published": "2024-05-14T09:12:03.512Z"}))
lines.append(json.dumps({"uuid": "d00d0000-0000-4000-8000-000000000004", "published": "2024-05-14T09:12:03.512Z", "eventType": "user.authentication.auth_via_mfa",
                         "debugContext": {"debugData": {"factor": "FIDO_WEBAUTHN", "backupEligible": True}}, "target": None}))
open("edge_cases.ndjson", "w").write("\n".join(lines) + "\n")

# Issue 11 classes, shaped after the catalog's schemas (AuthenticatorEnrollment
# detailEntry: authenticatorTransports, aaguid, backupEligible, authenticatorKey).
def enrx(id, name, method, props, **extra):
    d = {"methodTypeUsed": method, "methodUsedVerifiedProperties": props}
    d.update(extra)
    return {"id": id, "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": name, "detailEntry": d}
SYSTEM = ("0oa1system0000000001", "system@okta.com", "Okta System")
classes = [
  # Token reuse: a factor skipped on a remembered device, not an authentication.
  ev("b1000000-0000-4000-8000-000000000001", "2024-05-16T09:00:00.000Z", "user.mfa.attempt_bypass"),
  # Windows Hello labelled FIDO2 with HARDWARE_PROTECTED: a platform credential.
  ev("b1000000-0000-4000-8000-000000000002", "2024-05-16T09:01:00.000Z", "user.mfa.factor.activate",
     targets=[USER_T, {"id": "fwfWinHello00000001", "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "FIDO2 (WebAuthn)",
                       "detailEntry": {"aaguid": "08987058-CADC-4B81-B6E1-30DE50DCBE96", "backupEligible": "false", "authenticatorTransports": "[internal, hybrid]"}}]),
  ev("b1000000-0000-4000-8000-000000000003", "2024-05-16T09:02:00.000Z", "user.authentication.auth_via_mfa", factor="FIDO_WEBAUTHN",
     targets=[USER_T, enrx("fwfWinHello00000001", "Security Key or Biometric", "Security Key or Biometric Authenticator (FIDO2)",
                           "[USER_VERIFYING, USER_PRESENCE, HARDWARE_PROTECTED]", authenticatorTransports="[\"internal\", \"hybrid\"]", authenticatorKey="webauthn")]),
  # A YubiKey enrolled with no factor in debugData: the AAGUID names WebAuthn.
  ev("b1000000-0000-4000-8000-000000000004", "2024-05-16T09:03:00.000Z", "user.mfa.factor.activate",
     debug={"aaguid": "CB69481E-8FF7-4039-93EC-0A2729A154A8", "passkey": "false", "backupEligible": "false"},
     targets=[USER_T, {"id": "fwfYubi5000000000002", "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "FIDO2 (WebAuthn)", "detailEntry": None}]),
  # Okta FastPass on a TPM: a platform credential.
  ev("b1000000-0000-4000-8000-000000000005", "2024-05-16T09:04:00.000Z", "user.authentication.auth_via_mfa", factor="SIGNED_NONCE",
     targets=[USER_T, enrx("pfdFastPass000000001", "Okta Verify", "Use Okta FastPass", "[DEVICE_BOUND, PHISHING_RESISTANT, HARDWARE_PROTECTED, USER_VERIFYING]", authenticatorKey="okta_verify")]),
  # Okta suspends a factor on its own, then an admin unsuspends it.
  ev("b1000000-0000-4000-8000-000000000006", "2024-05-16T09:05:00.000Z", "user.mfa.factor.suspend", actor=SYSTEM,
     targets=[USER_T, {"id": "fwfYubi5000000000002", "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "FIDO2 (WebAuthn)", "detailEntry": None}]),
  ev("b1000000-0000-4000-8000-000000000007", "2024-05-16T09:06:00.000Z", "user.mfa.factor.unsuspend", actor=("00uadmin000000000001", "admin@example.com", "Okta Admin"),
     targets=[USER_T, {"id": "fwfYubi5000000000002", "type": "AuthenticatorEnrollment", "alternateId": "unknown", "displayName": "FIDO2 (WebAuthn)", "detailEntry": None}]),
  # The org turns a factor on: nobody's enrollment.
  ev("b1000000-0000-4000-8000-000000000008", "2024-05-16T09:07:00.000Z", "system.mfa.factor.activate", factor="FIDO_WEBAUTHN", actor=("00uadmin000000000001", "admin@example.com", "Okta Admin"),
     targets=[{"id": "fido_webauthn", "type": "Factor", "alternateId": "unknown", "displayName": "FIDO2 (WebAuthn)", "detailEntry": None}]),
  # Push through a custom app, a voice call, a YubiKey OTP.
  ev("b1000000-0000-4000-8000-000000000009", "2024-05-16T09:08:00.000Z", "user.authentication.auth_via_mfa", factor="CUSTOM_APP"),
  ev("b1000000-0000-4000-8000-00000000000a", "2024-05-16T09:09:00.000Z", "user.authentication.verify",
     targets=[USER_T, enrx("clf1phone0000000001", "Phone", "VOICE", "[USER_PRESENCE]", authenticatorKey="phone_number")]),
  ev("b1000000-0000-4000-8000-00000000000b", "2024-05-16T09:10:00.000Z", "user.authentication.auth_via_mfa", factor="token:hardware"),
  # A client-credentials app takes a token: not a person; Okta writes "null"
  # for its client IP and "unknown" for its session.
  ev("b1000000-0000-4000-8000-00000000000c", "2024-05-16T09:11:00.000Z", "app.oauth2.as.token.grant.access_token",
     actor=("0oa1reportingsvc0001", "unknown", "Reporting Service"), session="unknown"),
]
classes[-1]["actor"]["type"] = "PublicClientApp"
classes[-1]["client"]["ipAddress"] = "null"
classes[-1]["request"]["ipChain"] = [{"ip": "203.0.113.44", "geographicalContext": None, "version": "V4", "source": None}]
classes[5]["actor"]["type"] = "SystemPrincipal"
json.dump(classes, open("issue11_classes.json", "w"), indent=2)
