#!/usr/bin/env python3
"""Generates the Google Workspace fixtures (sources: README.md). Shape follows the Admin SDK
Reports API activities.list response for applicationName=login (the sample in
Google's Login Audit activity events reference and the login_success example
JSA documents); ids and people are made up."""
import json, copy

CAROL = ("104857600123456789012", "carol@example.com")
DAN = ("109876543210987654321", "dan@example.com")

def item(uq, t, actor, events, ip="192.0.2.44"):
    return {"kind": "admin#reports#activity", "id": {"time": t, "uniqueQualifier": uq, "applicationName": "login", "customerId": "C03az79cb"},
            "etag": "\"3InmzELrmhMYx7Wvxlz3NllOopE/" + uq[-8:] + "\"", "actor": {"callerType": "USER", "email": actor[1], "profileId": actor[0]},
            "ipAddress": ip, "events": events}

def ev(name, methods=None, login_type="google_password", second=None, suspicious=False, status=None, typ="login"):
    params = [{"name": "login_type", "value": login_type}]
    if methods is not None: params.append({"name": "login_challenge_method", "multiValue": methods})
    if second is not None: params.append({"name": "is_second_factor", "boolValue": second})
    if status: params.append({"name": "login_challenge_status", "value": status})
    params.append({"name": "is_suspicious", "boolValue": suspicious})
    return {"type": typ, "name": name, "parameters": params}

page = {"kind": "admin#reports#activities", "etag": "\"3InmzELrmhMYx7Wvxlz3NllOopE/Xc2kkIaMZs1fR4SlAc7XRA2RoXE\"", "nextPageToken": "A:1715677923000000:-2329294394874562525:104857600123456789012:C03az79cb",
        "items": [
  item("-2329294394874562525", "2024-05-14T09:12:03.000Z", CAROL, [ev("login_verification", ["security_key"], second=True, status="passed"), ev("login_success", ["password", "security_key"])]),
  item("358068855354", "2024-05-14T09:20:00.512Z", DAN, [ev("login_success", ["password"])]),
  item("358068855355", "2024-05-14T09:21:00.000Z", DAN, [ev("login_success", ["password", "google_authenticator"])]),
  item("358068855356", "2024-05-14T09:22:00.000Z", DAN, [ev("login_success", ["password", "internal_two_factor"])]),
  item("358068855357", "2024-05-14T09:23:00.000Z", DAN, [ev("login_success", ["password", "idv_preregistered_phone"])]),
  item("358068855358", "2024-05-14T09:24:00.000Z", DAN, [ev("login_failure", ["password"])]),
  item("358068855359", "2024-05-14T09:25:00.000Z", CAROL, [ev("login_success", ["passkey"])]),
  item("358068855360", "2024-05-14T09:26:00.000Z", CAROL, [ev("login_challenge", ["security_key"], status="Challenge Failed")]),
  item("358068855361", "2024-05-14T08:00:00.000Z", CAROL, [{"type": "2sv_change", "name": "2sv_enroll"}]),
  item("358068855362", "2024-05-15T08:00:00.000Z", DAN, [{"type": "2sv_change", "name": "2sv_disable"}]),
  item("358068855363", "2024-05-15T08:01:00.000Z", DAN, [{"type": "logout", "name": "logout", "parameters": []}]),
  item("358068855364", "2024-05-15T08:02:00.000Z", DAN, [{"type": "account_warning", "name": "suspicious_login", "parameters": [{"name": "affected_email_address", "value": "dan@example.com"}]}]),
  item("358068855365", "2024-05-15T08:03:00.000Z", CAROL, [ev("login_success", ["saml"], login_type="saml")]),
  # The documented example: two wrong passwords, then a security key, in one event.
  item("-1234567890123456789", "2024-05-16T01:14:07.512Z", CAROL, [ev("login_success", ["password", "password", "password", "security_key"])]),
  # Passkeys: sign-in, enrollment and removal (account_warning events without parameters).
  item("358068855366", "2024-05-16T08:00:00.000Z", DAN, [{"type": "account_warning", "name": "passkey_enrolled"}]),
  item("358068855367", "2024-05-16T08:01:00.000Z", DAN, [ev("login_success", ["passkey"])]),
  item("358068855368", "2024-05-17T08:00:00.000Z", DAN, [{"type": "account_warning", "name": "passkey_removed"}]),
  # Knowledge challenges send nothing: knowledge factors, not phone or email.
  item("358068855369", "2024-05-16T08:02:00.000Z", DAN, [ev("login_challenge", ["knowledge_preregistered_phone"], status="Challenge Passed.")]),
  item("358068855370", "2024-05-16T08:03:00.000Z", DAN, [ev("login_verification", ["knowledge_employee_id"], second=False, status="Challenge Passed.")]),
  item("358068855371", "2024-05-16T08:04:00.000Z", DAN, [ev("login_verification", ["idv_any_phone"], second=True, status="Challenge Passed.")]),
  item("358068855372", "2024-05-16T08:05:00.000Z", DAN, [ev("login_success", ["password", "security_key_otp"])]),
  item("358068855373", "2024-05-16T08:06:00.000Z", DAN, [ev("login_success", ["password", "google_prompt"])]),
  # A credential exchange with no challenge is not an authentication.
  item("358068855374", "2024-05-16T08:07:00.000Z", CAROL, [ev("login_success", ["none"], login_type="exchange")]),
  # Advanced Protection enrollment is not a key registration.
  item("358068855375", "2024-05-16T08:08:00.000Z", CAROL, [{"type": "titanium_change", "name": "titanium_enroll"}]),
]}
json.dump(page, open("activities_page.json", "w"), indent=2)
json.dump(page["items"][0], open("single_activity.json", "w"), indent=2)
json.dump(page["items"][1:4], open("activities_array.json", "w"), indent=2)

lines = []
for i, t in enumerate(["2024-05-14T09:12:03Z", "2024-05-14T09:12:03.1Z", "2024-05-14T09:12:03.12Z", "2024-05-14T09:12:03.123Z", "2024-05-14T09:12:03.1234Z",
                       "2024-05-14T09:12:03.12345Z", "2024-05-14T09:12:03.123456Z", "2024-05-14T09:12:03.1234567Z", "2024-05-14T10:12:03.123+01:00", "2024-05-14T09:12:03.123-00:00"]):
    e = copy.deepcopy(page["items"][0]); e["id"]["uniqueQualifier"] = "edge-%d" % i; e["id"]["time"] = t; lines.append(json.dumps(e))
lines.append(json.dumps(page["items"][1])); lines.append(json.dumps(page["items"][1]))
e = copy.deepcopy(page["items"][1]); del e["id"]["uniqueQualifier"]; lines.append(json.dumps(e))
e = copy.deepcopy(page["items"][1]); e["id"]["uniqueQualifier"] = "edge-notime"; del e["id"]["time"]; lines.append(json.dumps(e))
e = copy.deepcopy(page["items"][1]); e["id"]["uniqueQualifier"] = "edge-badtime"; e["id"]["time"] = "1715677923"; lines.append(json.dumps(e))
lines.append(json.dumps({"id": {"uniqueQualifier": 1234567, "time": "2024-05-14T09:12:03Z"}, "events": [{"name": "login_success", "parameters": [{"name": "login_challenge_method", "value": "SECURITY_KEY"}]}]}))
lines.append(json.dumps({"id": {"uniqueQualifier": "edge-noevents", "time": "2024-05-14T09:12:03Z"}}))
# Google's uniqueness: the same uniqueQualifier at another time is another activity, not a duplicate.
e = copy.deepcopy(page["items"][1]); e["id"]["time"] = "2024-05-14T09:20:01.512Z"; lines.append(json.dumps(e))
# Type errors name the field and the activity.
lines.append(json.dumps({"id": {"uniqueQualifier": "edge-events-text", "time": "2024-05-14T09:12:03Z"}, "events": "login_success"}))
lines.append(json.dumps({"id": {"uniqueQualifier": "edge-param-number", "time": "2024-05-14T09:12:03Z"}, "events": [{"name": "login_success", "parameters": [7]}]}))
lines.append("not json at all")
open("edge_cases.ndjson", "w").write("\n".join(lines) + "\n")

# Shapes log shippers write (the Elastic google_workspace integration's
# pipeline test input: one event object per record, numeric uniqueQualifier
# and profileId; the Cloud Logging form multiStrValue) and a non-user caller.
ship = []
def shipped(uq, t, actor, event, caller="USER"):
    return {"kind": "admin#reports#activity", "id": {"time": t, "uniqueQualifier": uq, "applicationName": "login", "customerId": "C03az79cb"},
            "actor": {"callerType": caller, "email": actor[1], "profileId": int(actor[0][:15])}, "ipAddress": "192.0.2.45", "events": event}
ship.append(shipped(900001, "2024-05-14T09:30:00Z", CAROL, {"type": "login", "name": "login_verification", "parameters": [
    {"name": "login_type", "value": "google_password"}, {"multiValue": ["security_key"], "name": "login_challenge_method"},
    {"name": "login_challenge_status", "value": "passed"}, {"boolValue": True, "name": "is_second_factor"}]}))
ship.append(shipped(900002, "2024-05-14T09:31:00Z", DAN, {"type": "login", "name": "login_success", "parameters": [
    {"name": "login_challenge_method", "value": "backup_code"}, {"name": "is_suspicious", "boolValue": False}, {"name": "login_type", "value": "exchange"}]}))
ship.append(shipped(900003, "2024-05-14T09:32:00Z", DAN, {"type": "account_warning", "name": "suspicious_login", "parameters": [
    {"name": "affected_email_address", "value": DAN[1]}, {"name": "login_timestamp", "intValue": 1715679120123456}]}))
ship.append(shipped(900004, "2024-05-14T09:33:00Z", DAN, [{"type": "login", "name": "login_success", "parameters": [
    {"name": "login_type", "value": "google_password"}, {"name": "login_challenge_method", "multiStrValue": ["password", "google_prompt"], "type": "TYPE_STRING", "label": "LABEL_REPEATED"}]}]))
k = shipped(900005, "2024-05-14T09:34:00Z", ("100000000000000000000", ""), [{"type": "login", "name": "login_success", "parameters": [{"name": "login_type", "value": "unknown"}]}], caller="KEY")
k["actor"] = {"callerType": "KEY", "key": "SYSTEM"}
ship.append(k)
open("shipper_shapes.ndjson", "w").write("\n".join(json.dumps(x) for x in ship) + "\n")
