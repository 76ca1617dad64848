#!/usr/bin/env python3
"""Generates the Entra ID fixtures. Shapes follow Microsoft Graph's signIn and
directoryAudit resources (learn.microsoft.com/graph/api/resources/signin,
.../directoryaudit) and the Azure Monitor SignInLogs/AuditLogs export schema;
ids and people are made up."""
import json, copy

ALICE = ("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "alice@contoso.com", "Alice Example")
BOB = ("0b7e4d2a-1c3f-4e5a-9b8c-7d6e5f4a3b2c", "bob@contoso.com", "Bob Example")

def step(method, detail=None, ok=True, when="2024-05-14T09:12:03Z", result=None):
    return {"authenticationStepDateTime": when, "authenticationMethod": method, "authenticationMethodDetail": detail,
            "succeeded": ok, "authenticationStepResultDetail": result or ("MFA successfully completed" if ok else "Authentication failed"),
            "authenticationStepRequirement": "Primary authentication"}

def signin(id, when, user, details, code=0, reason="Other.", req="multiFactorAuthentication", app="Airflow Production", session="0b3f4e2a-7c1d-4e8f-9a6b-5c4d3e2f1a0b", interactive=True):
    return {
        "id": id, "createdDateTime": when, "userDisplayName": user[2], "userPrincipalName": user[1], "userId": user[0],
        "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064", "appDisplayName": app, "ipAddress": "203.0.113.77", "clientAppUsed": "Browser",
        "correlationId": "c1d2e3f4-0000-4000-8000-" + id[-12:], "conditionalAccessStatus": "success", "isInteractive": interactive,
        "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none", "riskState": "none",
        "resourceDisplayName": "Airflow Production", "resourceId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        "status": {"errorCode": code, "failureReason": reason if code else "Other.", "additionalDetails": None},
        "deviceDetail": {"deviceId": "", "displayName": None, "operatingSystem": "MacOs", "browser": "Chrome 124.0.0", "isCompliant": None, "isManaged": None, "trustType": None},
        "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US", "geoCoordinates": {"altitude": None, "latitude": 47.68, "longitude": -122.12}},
        "authenticationRequirement": req, "sessionId": session, "authenticationDetails": details,
        "appliedConditionalAccessPolicies": [],
    }

page = {"@odata.context": "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns", "@odata.nextLink": "https://graph.microsoft.com/beta/auditLogs/signIns?$top=10&$skiptoken=9177f2e3532fcd4c4d225f68f7b9bdf7",
        "value": [
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0100", "2024-05-14T09:12:03Z", ALICE,
         [step("Password", None), step("FIDO2 security key", "YubiKey 5 NFC - FA2B99DC-9E39-4257-8F92-4A30D23C4118")]),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0101", "2024-05-14T09:30:00.1234567Z", ALICE,
         [step("Passkey (device-bound)", "Work key - cb69481e-8ff7-4039-93ec-0a2729a154a8")], req="singleFactorAuthentication"),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0102", "2024-05-14T09:35:00Z", BOB,
         [step("Password"), step("Mobile app notification", "Bob's iPhone")]),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0103", "2024-05-14T09:36:00Z", BOB,
         [step("Password"), step("OATH verification code")]),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0104", "2024-05-14T09:37:00Z", BOB,
         [step("Password"), step("Text message", "+X XXXXXXXX12")]),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0105", "2024-05-14T09:38:00Z", BOB,
         [step("Password", ok=False)], code=50126, reason="Error validating credentials due to invalid username or password.", req="singleFactorAuthentication"),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0106", "2024-05-14T09:40:00Z", ALICE,
         [step("Previously satisfied", None, result="First factor requirement satisfied by claim in the token"),
          step("Previously satisfied", None, result="MFA requirement satisfied by claim in the token")], interactive=False),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0107", "2024-05-14T09:41:00Z", BOB,
         [step("Passkey (synced)", "iCloud - fbfc3007-154e-4ecc-8c0b-6e020557d7bd")]),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0108", "2024-05-14T09:42:00Z", BOB,
         [step("Password"), step("Previously satisfied", result="MFA requirement satisfied by claim in the token")]),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0109", "2024-05-14T09:43:00Z", BOB,
         [step("Password"), step("FIDO2 security key", "YubiKey", ok=False)], code=500121, reason="Authentication failed during strong authentication request."),
]}
json.dump(page, open("signins_page.json", "w"), indent=2)
json.dump(page["value"][0], open("single_signin.json", "w"), indent=2)

def monitor(cat, props, t):
    return {"time": t, "resourceId": "/tenants/72f988bf-86f1-41af-91ab-2d7cd011db47/providers/Microsoft.aadiam", "operationName": "Sign-in activity" if cat != "AuditLogs" else props.get("activityDisplayName"),
            "operationVersion": "1.0", "category": cat, "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "resultType": "0", "resultSignature": "None",
            "durationMs": 0, "callerIpAddress": "203.0.113.77", "correlationId": "c1d2e3f4-0000-4000-8000-000000000000", "identity": "Alice Example", "Level": 4,
            "location": "US", "properties": props}

def audit(id, when, activity, target, details, initiator=None, result="success"):
    return {"id": id, "category": "UserManagement", "correlationId": "2f6e3b9d-0000-4000-8000-" + id[-12:], "result": result, "resultReason": "",
            "activityDisplayName": activity, "activityDateTime": when, "loggedByService": "Authentication Methods", "operationType": "Add" if activity.startswith("Add") else "Delete",
            "initiatedBy": {"app": None, "user": {"id": (initiator or target)[0], "displayName": None, "userPrincipalName": (initiator or target)[1], "ipAddress": "203.0.113.77"}},
            "targetResources": [{"id": target[0], "displayName": target[2], "type": "User", "userPrincipalName": target[1], "groupType": None, "modifiedProperties": []}],
            "additionalDetails": details}

audits = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": [
  audit("Directory_8f1a7c2e-0001", "2024-05-14T08:00:00.5Z", "Add Passkey (device-bound)", ALICE,
        [{"key": "AAGuid", "value": "FA2B99DC-9E39-4257-8F92-4A30D23C4118"}, {"key": "Model", "value": "YubiKey 5 Series with NFC"}, {"key": "CredentialId", "value": "A1b2C3d4E5f6G7h8I9j0"}]),
  audit("Directory_8f1a7c2e-0002", "2024-05-14T08:05:00Z", "Add FIDO2 security key", BOB,
        [{"key": "AAGuid", "value": "f8a011f3-8c0a-4d15-8006-17111f9edc7d"}]),
  audit("Directory_8f1a7c2e-0003", "2024-05-15T08:05:00Z", "Delete Passkey (device-bound)", ALICE,
        [{"key": "AAGuid", "value": "fa2b99dc-9e39-4257-8f92-4a30d23c4118"}], initiator=("admin-0000", "admin@contoso.com", "Admin")),
  audit("Directory_8f1a7c2e-0004", "2024-05-15T08:06:00Z", "Update user", BOB, []),
]}
json.dump(audits, open("directory_audits_page.json", "w"), indent=2)

hub = {"records": [
  monitor("SignInLogs", page["value"][0], "2024-05-14T09:12:03.1234567Z"),
  monitor("NonInteractiveUserSignInLogs", page["value"][6], "2024-05-14T09:40:00.0000000Z"),
  monitor("AuditLogs", audits["value"][0], "2024-05-14T08:00:00.5000000Z"),
]}
json.dump(hub, open("event_hubs_records.json", "w"), indent=2)

lines = []
for i, t in enumerate(["2024-05-14T09:12:03Z", "2024-05-14T09:12:03.1Z", "2024-05-14T09:12:03.12Z", "2024-05-14T09:12:03.123Z", "2024-05-14T09:12:03.1234Z",
                       "2024-05-14T09:12:03.12345Z", "2024-05-14T09:12:03.123456Z", "2024-05-14T09:12:03.1234567Z", "2024-05-14T11:12:03.1234567+02:00", "2024-05-14T01:12:03.999-08:00"]):
    e = copy.deepcopy(page["value"][0]); e["id"] = "edge-%04d" % i; e["createdDateTime"] = t; lines.append(json.dumps(e))
lines.append(json.dumps(page["value"][2])); lines.append(json.dumps(page["value"][2]))
e = copy.deepcopy(page["value"][2]); del e["id"]; lines.append(json.dumps(e))
e = copy.deepcopy(page["value"][2]); e["id"] = "edge-notime"; del e["createdDateTime"]; lines.append(json.dumps(e))
e = copy.deepcopy(page["value"][2]); e["id"] = "edge-badtime"; e["createdDateTime"] = "14/05/2024"; lines.append(json.dumps(e))
lines.append(json.dumps({"id": "edge-empty", "createdDateTime": "2024-05-14T09:12:03Z"}))
lines.append(json.dumps({"id": "edge-whfb", "createdDateTime": "2024-05-14T09:12:03Z", "status": {"errorCode": 0}, "authenticationDetails": [{"authenticationMethod": "Windows Hello for Business", "succeeded": True}]}))
lines.append(json.dumps({"id": "edge-legacy", "createdDateTime": "2024-05-14T09:12:03Z", "status": {"errorCode": 0}, "authenticationMethodsUsed": ["Password", "Mobile app verification code"]}))
lines.append(json.dumps({"id": "edge-props", "time": "2024-05-14T09:12:03Z", "category": "SignInLogs", "properties": "oops"}))
lines.append('{"id": ')
open("edge_cases.ndjson", "w").write("\n".join(lines) + "\n")
