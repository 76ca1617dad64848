#!/usr/bin/env python3
"""Generates the Keycloak fixtures. Shapes follow Keycloak's
EventRepresentation and AdminEventRepresentation (admin REST API
/admin/realms/{realm}/events and /admin-events); ids and people are made up."""
import json, copy

DAVE = "0b7e4d2a-1c3f-4e5a-9b8c-7d6e5f4a3b2c"
ERIN = "5e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
def ev(t, typ, user, details, id=None, session="f2a6c9d1-3b4e-4f5a-8c7d-6e5f4a3b2c1d", client="airflow", error=None, ip="198.51.100.80"):
    e = {"time": t, "type": typ, "realmId": "corp", "clientId": client, "userId": user, "sessionId": session, "ipAddress": ip, "details": details}
    if id: e = {"id": id, **e}
    if error: e["error"] = error
    return e

events = [
  ev(1715677923512, "LOGIN", DAVE, {"auth_method": "openid-connect", "auth_type": "code", "redirect_uri": "https://airflow.example.com/oauth-authorized/keycloak", "code_id": "f2a6c9d1-3b4e-4f5a-8c7d-6e5f4a3b2c1d", "username": "dave", "credential_type": "webauthn", "web_authn_authenticator_user_verification_checked": "true", "public_key_credential_id": "AQIDBAUGBwgJCgsMDQ4PEA"}, id="a1b2c3d4-0001-4000-8000-000000000001"),
  ev(1715677980000, "LOGIN", DAVE, {"auth_method": "openid-connect", "username": "dave", "credential_type": "webauthn-passwordless", "web_authn_authenticator_user_verification_checked": "true", "public_key_credential_id": "EBESExQVFhcYGRobHB0eHw"}, id="a1b2c3d4-0002-4000-8000-000000000002"),
  ev(1715678000000, "LOGIN", ERIN, {"auth_method": "openid-connect", "username": "erin", "credential_type": "password"}, id="a1b2c3d4-0003-4000-8000-000000000003"),
  ev(1715678060000, "LOGIN", ERIN, {"auth_method": "openid-connect", "username": "erin", "credential_type": "otp"}, id="a1b2c3d4-0004-4000-8000-000000000004"),
  ev(1715678120000, "LOGIN_ERROR", ERIN, {"auth_method": "openid-connect", "username": "erin", "credential_type": "otp"}, id="a1b2c3d4-0005-4000-8000-000000000005", error="invalid_user_credentials", session=None),
  ev(1715678180000, "CODE_TO_TOKEN", DAVE, {"token_id": "9a8b7c6d", "grant_type": "authorization_code", "code_id": "f2a6c9d1"}, id="a1b2c3d4-0006-4000-8000-000000000006"),
  ev(1715678240000, "REFRESH_TOKEN", DAVE, {"token_id": "9a8b7c6e", "refresh_token_type": "Refresh"}, id="a1b2c3d4-0007-4000-8000-000000000007"),
  ev(1715670000000, "CUSTOM_REQUIRED_ACTION", DAVE, {"custom_required_action": "webauthn-register", "username": "dave", "credential_type": "webauthn", "public_key_credential_id": "AQIDBAUGBwgJCgsMDQ4PEA", "public_key_credential_aaguid": "CB69481E-8FF7-4039-93EC-0A2729A154A8", "public_key_credential_label": "YubiKey 5"}, id="a1b2c3d4-0008-4000-8000-000000000008"),
  ev(1715670060000, "CUSTOM_REQUIRED_ACTION", DAVE, {"custom_required_action": "webauthn-register-passwordless", "username": "dave", "public_key_credential_id": "EBESExQVFhcYGRobHB0eHw", "public_key_credential_aaguid": "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "public_key_credential_label": "iPhone"}, id="a1b2c3d4-0009-4000-8000-000000000009"),
  ev(1715760000000, "REMOVE_CREDENTIAL", DAVE, {"credential_type": "webauthn", "credential_id": "7c1e2f3a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", "username": "dave"}, id="a1b2c3d4-0010-4000-8000-000000000010"),
  ev(1715760060000, "LOGOUT", DAVE, {"redirect_uri": "https://airflow.example.com/"}, id="a1b2c3d4-0011-4000-8000-000000000011"),
  ev(1715760120000, "SEND_RESET_PASSWORD", ERIN, {"username": "erin", "email": "erin@example.com"}, id="a1b2c3d4-0012-4000-8000-000000000012"),
]
json.dump(events, open("user_events.json", "w"), indent=2)
json.dump(events[0], open("single_event.json", "w"), indent=2)

admin = [
  {"id": "b2c3d4e5-0001-4000-8000-000000000001", "time": 1715760300000, "realmId": "corp", "authDetails": {"realmId": "master", "clientId": "security-admin-console", "userId": "9f8e7d6c-0000-4000-8000-0000000000ad", "ipAddress": "198.51.100.5"},
   "operationType": "DELETE", "resourceType": "USER", "resourcePath": "users/" + ERIN + "/credentials/3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f6a"},
  {"time": 1715760360000, "realmId": "corp", "authDetails": {"realmId": "master", "clientId": "security-admin-console", "userId": "9f8e7d6c-0000-4000-8000-0000000000ad", "ipAddress": "198.51.100.5"},
   "operationType": "UPDATE", "resourceType": "USER", "resourcePath": "users/" + ERIN, "representation": "{\"enabled\":true}"},
]
json.dump(admin, open("admin_events.json", "w"), indent=2)

lines = []
# Older Keycloak without id: derived ids; the second is the same event re-serialized.
old = ev(1715677923512, "LOGIN", DAVE, {"username": "dave", "credential_type": "webauthn", "public_key_credential_id": "AQIDBAUGBwgJCgsMDQ4PEA"})
lines.append(json.dumps(old)); lines.append(json.dumps(old, indent=None, separators=(",", ":"), sort_keys=True))
lines.append(json.dumps(events[2])); lines.append(json.dumps(events[2]))
e = copy.deepcopy(events[2]); del e["time"]; lines.append(json.dumps(e))
e = copy.deepcopy(events[2]); e["time"] = "2024-05-14T11:12:03.5123456+02:00"; e["id"] = "edge-rfc3339"; lines.append(json.dumps(e))
e = copy.deepcopy(events[2]); e["time"] = "1715677923512"; e["id"] = "edge-string-ms"; lines.append(json.dumps(e))
e = copy.deepcopy(events[2]); e["time"] = -5; e["id"] = "edge-negative"; lines.append(json.dumps(e))
e = copy.deepcopy(events[2]); e["time"] = 1.5; e["id"] = "edge-float"; lines.append(json.dumps(e))
e = copy.deepcopy(events[2]); del e["type"]; e["id"] = "edge-notype"; lines.append(json.dumps(e))
lines.append(json.dumps({"id": "edge-future", "time": 1715677923512, "type": "SOME_FUTURE_EVENT", "userId": DAVE, "details": None}))
lines.append(json.dumps({"id": "edge-details", "time": 1715677923512, "type": "LOGIN", "details": "oops"}))
lines.append("{]")
open("edge_cases.ndjson", "w").write("\n".join(lines) + "\n")

# Issue 11 classes, shaped after Keycloak 26's event builders
# (WebAuthnAuthenticator, WebAuthnRegister, DeleteCredentialAction,
# UserResource.removeCredential, the client-credentials grant).
SVC = "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d"
classes = [
  # A WebAuthn sign-in from Keycloak < 26: public_key_credential_id, no credential_type.
  ev(1715800000000, "LOGIN", DAVE, {"auth_method": "openid-connect", "username": "dave", "web_authn_authenticator_user_verification_checked": "false", "public_key_credential_id": "AQIDBAUGBwgJCgsMDQ4PEA"}, id="c3d4e5f6-0001-4000-8000-000000000001"),
  # Keycloak 26 registration: UPDATE_CREDENTIAL with the credential type, and the deprecated twin.
  ev(1715800060000, "UPDATE_CREDENTIAL", DAVE, {"credential_type": "webauthn", "username": "dave", "public_key_credential_id": "ICEiIyQlJicoKSorLC0uLw", "public_key_credential_aaguid": "08987058-cadc-4b81-b6e1-30de50dcbe96", "public_key_credential_label": "Dave's laptop"}, id="c3d4e5f6-0002-4000-8000-000000000002"),
  ev(1715800060000, "CUSTOM_REQUIRED_ACTION", DAVE, {"custom_required_action": "webauthn-register", "credential_type": "webauthn", "username": "dave", "public_key_credential_id": "ICEiIyQlJicoKSorLC0uLw", "public_key_credential_aaguid": "08987058-cadc-4b81-b6e1-30de50dcbe96", "public_key_credential_label": "Dave's laptop"}, id="c3d4e5f6-0003-4000-8000-000000000003"),
  # A password change is no authenticator registration.
  ev(1715800120000, "UPDATE_CREDENTIAL", ERIN, {"credential_type": "password", "username": "erin"}, id="c3d4e5f6-0004-4000-8000-000000000004"),
  # OTP configured and removed (deprecated event names).
  ev(1715800180000, "UPDATE_TOTP", ERIN, {"username": "erin"}, id="c3d4e5f6-0005-4000-8000-000000000005"),
  ev(1715800240000, "REMOVE_TOTP", ERIN, {"username": "erin", "credential_id": "8d9e0f1a-2b3c-4d5e-8f6a-7b8c9d0e1f2a"}, id="c3d4e5f6-0006-4000-8000-000000000006"),
  # A client's own login (client credentials grant): a service, not a person.
  ev(1715800300000, "CLIENT_LOGIN", SVC, {"grant_type": "client_credentials", "client_auth_method": "client-secret", "username": "service-account-airflow-sync", "token_id": "5f6a7b8c"}, id="c3d4e5f6-0007-4000-8000-000000000007", client="airflow-sync", session=None),
]
json.dump(classes, open("issue11_classes.json", "w"), indent=2)
admin11 = [
  # Keycloak records DELETE …/credentials/{id} as operation ACTION.
  {"id": "d4e5f6a7-0001-4000-8000-000000000001", "time": 1715800400000, "realmId": "corp", "authDetails": {"realmId": "master", "clientId": "security-admin-console", "userId": "9f8e7d6c-0000-4000-8000-0000000000ad", "ipAddress": "198.51.100.5"},
   "operationType": "ACTION", "resourceType": "USER", "resourcePath": "users/" + DAVE + "/credentials/7c1e2f3a-5b6c-4d7e-8f9a-0b1c2d3e4f5a"},
  {"id": "d4e5f6a7-0002-4000-8000-000000000002", "time": 1715800460000, "realmId": "corp", "authDetails": {"realmId": "master", "clientId": "admin-cli", "userId": "9f8e7d6c-0000-4000-8000-0000000000ad", "ipAddress": "198.51.100.5"},
   "operationType": "ACTION", "resourceType": "USER", "resourcePath": "users/" + ERIN + "/disable-credential-types", "representation": "[\"otp\"]"},
]
json.dump(admin11, open("issue11_admin_events.json", "w"), indent=2)
# Lines a log shipper may mix in that are not Keycloak events.
open("not_events.ndjson", "w").write("\n".join([
  json.dumps({"@timestamp": "2024-05-14T09:12:03.512Z", "level": "INFO", "message": "Keycloak 26.1.0 on JVM started"}),
  json.dumps({"time": 1715677923512, "msg": "type missing"}),
  json.dumps({"id": "edge-type-object", "time": 1715677923512, "type": "LOGIN", "userId": {"id": "x"}}),
  json.dumps({"id": "edge-time-bool", "time": True, "type": "LOGIN"}),
]) + "\n")
