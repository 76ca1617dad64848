#!/usr/bin/env python3
"""Generates the Entra ID fixtures (sources: README.md). Shapes follow Microsoft Graph's signIn and
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

def signin(id, when, user, details, code=0, reason="Other.", req="multiFactorAuthentication", app="Airflow Production", session="0b3f4e2a-7c1d-4e8f-9a6b-5c4d3e2f1a0b", interactive=True, beta=None):
    rec = {
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
    if beta is not None:
        # beta-only properties, in the order and with the defaults of a real
        # beta signIn (see README.md, "beta signIn shape")
        rec.update({"userType": "member", "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
                    "incomingTokenType": "none", "authenticationMethodsUsed": [], "servicePrincipalId": "", "servicePrincipalName": None,
                    "clientCredentialType": "none", "crossTenantAccessType": "none", "signInTokenProtectionStatus": "unbound",
                    "managedServiceIdentity": {"msiType": "none", "associatedResourceId": None, "federatedTokenId": None, "federatedTokenIssuer": None}})
        rec.update(beta)
    return rec

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
  # A1: a FIDO2 step satisfied by a claim in the token is not a key tap.
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0110", "2024-05-14T10:00:00Z", ALICE,
         [step("Previously satisfied", None, result="First factor requirement satisfied by claim in the token"),
          step("FIDO2 security key", "YubiKey 5 NFC - FA2B99DC-9E39-4257-8F92-4A30D23C4118", result="MFA requirement satisfied by claim in the token")], beta={}),
  # Shape of the Microsoft support wiki's authentication-strength sign-in: a
  # real key tap next to a multi-factor-device claim.
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0111", "2024-05-14T10:01:00Z", ALICE,
         [step("Password", "Password in the cloud", result="Correct password"),
          step("FIDO2 security key", "My Security Key - ee882879-721c-4913-9775-3dfcce97072a", result=None),
          step("Other", None, result="MFA requirement satisfied by multi-factor device")], req="multiFactorAuthentication", beta={}),
  # The beta signIn example's labels: "FIDO2" and "Claim in access token".
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0112", "2024-05-14T10:02:00Z", BOB,
         [step("FIDO2", "1G54395783", result="methodSucceeded"), step("Claim in access token", None, result="methodSucceeded")]),
  # A2: a device-bound passkey in Microsoft Authenticator (its AAGUID) and the
  # platform-labelled methods.
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0113", "2024-05-14T10:03:00Z", BOB,
         [step("Passkey (device-bound)", "Bob's iPhone - 90a3ccdf-635c-4729-a248-9b709135078f")], req="singleFactorAuthentication", beta={}),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0114", "2024-05-14T10:04:00Z", BOB,
         [step("Passkey (Microsoft Authenticator)", "Bob's iPhone - 90a3ccdf-635c-4729-a248-9b709135078f")], req="singleFactorAuthentication", beta={}),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0115", "2024-05-14T10:05:00Z", ALICE,
         [step("Windows Hello for Business", None)], app="Windows Sign In", req="singleFactorAuthentication",
         beta={"incomingTokenType": "none", "authenticationMethodsUsed": []}),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0116", "2024-05-14T10:06:00Z", ALICE,
         [step("Platform credential", None)], req="singleFactorAuthentication", beta={}),
  # A5: minor labels.
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0117", "2024-05-14T10:07:00Z", BOB,
         [step("Passwordless phone sign-in", "Bob's iPhone")], req="multiFactorAuthentication", beta={}),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0118", "2024-05-14T10:08:00Z", BOB,
         [step("Password", "Password Hash Sync", result="Correct password"), step("Phone call approval (Authentication phone)", "+X XXXXXXXX12")], beta={}),
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0119", "2024-05-14T10:09:00Z", BOB,
         [step("Password", "Pass-through Authentication", result="Correct password"), step("Hardware OATH token", None)], beta={}),
  # A5: no details, only authenticationMethodsUsed ["FIDO"].
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0120", "2024-05-14T10:10:00Z", ALICE, [], beta={"authenticationMethodsUsed": ["FIDO"]}),
  # A1: an interactive record whose only credential is a primary refresh token.
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0121", "2024-05-14T10:11:00Z", ALICE, [], req="singleFactorAuthentication",
         beta={"incomingTokenType": "primaryRefreshToken", "signInTokenProtectionStatus": "bound"}),
  # MFA skipped due to location: the password is the factor.
  signin("66ea54eb-6301-4ee5-be62-ff5a759b0122", "2024-05-14T10:12:00Z", BOB,
         [step("Password", "Password in the cloud", result="Correct password"),
          step("Mobile app notification", None, result="MFA requirement skipped due to location")], beta={}),
]}
json.dump(page, open("signins_page.json", "w"), indent=2)
json.dump(page["value"][0], open("single_signin.json", "w"), indent=2)

def monitor(cat, props, t):
    return {"time": t, "resourceId": "/tenants/72f988bf-86f1-41af-91ab-2d7cd011db47/providers/Microsoft.aadiam", "operationName": "Sign-in activity" if cat != "AuditLogs" else props.get("activityDisplayName"),
            "operationVersion": "1.0", "category": cat, "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "resultType": "0", "resultSignature": "None",
            "durationMs": 0, "callerIpAddress": "203.0.113.77", "correlationId": "c1d2e3f4-0000-4000-8000-000000000000", "identity": "Alice Example", "Level": 4,
            "location": "US", "properties": props}

def audit(id, when, activity, target, details, initiator=None, result="success", service="Authentication Methods", reason="", op=None, target_id=True, props=None):
    return {"id": id, "category": "UserManagement", "correlationId": "2f6e3b9d-0000-4000-8000-" + id[-12:], "result": result, "resultReason": reason,
            "activityDisplayName": activity, "activityDateTime": when, "loggedByService": service, "operationType": op or ("Add" if activity.startswith("Add") else "Delete"),
            "initiatedBy": {"app": None, "user": {"id": (initiator or target)[0], "displayName": None, "userPrincipalName": (initiator or target)[1], "ipAddress": "203.0.113.77"}},
            "targetResources": [{"id": target[0] if target_id else None, "displayName": target[2], "type": "User", "userPrincipalName": target[1], "groupType": None, "modifiedProperties": props or []}],
            "additionalDetails": details}

audits = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits", "value": [
  audit("Directory_8f1a7c2e-0001", "2024-05-14T08:00:00.5Z", "Add Passkey (device-bound)", ALICE,
        [{"key": "AAGuid", "value": "FA2B99DC-9E39-4257-8F92-4A30D23C4118"}, {"key": "Model", "value": "YubiKey 5 Series with NFC"}, {"key": "CredentialId", "value": "A1b2C3d4E5f6G7h8I9j0"}]),
  audit("Directory_8f1a7c2e-0002", "2024-05-14T08:05:00Z", "Add FIDO2 security key", BOB,
        [{"key": "AAGuid", "value": "f8a011f3-8c0a-4d15-8006-17111f9edc7d"}]),
  audit("Directory_8f1a7c2e-0003", "2024-05-15T08:05:00Z", "Delete Passkey (device-bound)", ALICE,
        [{"key": "AAGuid", "value": "fa2b99dc-9e39-4257-8f92-4a30d23c4118"}], initiator=("admin-0000", "admin@contoso.com", "Admin")),
  audit("Directory_8f1a7c2e-0004", "2024-05-15T08:06:00Z", "Update user", BOB, []),
  # Device Registration Service credential audits (activity names from the
  # detection content listed in README.md). The passkey target may carry only
  # the UPN; its AAGUID is the second additionalDetails entry.
  audit("Directory_8f1a7c2e-0005", "2024-05-16T08:00:00Z", "Add Passkey (device-bound)", BOB,
        [{"key": "WebAuthnInfo", "value": "Bob's iPhone"}, {"key": "AAGuid", "value": "90a3ccdf-635c-4729-a248-9b709135078f"}],
        service="Device Registration Service", target_id=False),
  audit("Directory_8f1a7c2e-0006", "2024-05-16T08:01:00Z", "Add Windows Hello for Business credential", ALICE, [], service="Device Registration Service"),
  audit("Directory_8f1a7c2e-0007", "2024-05-16T08:02:00Z", "Add passwordless phone sign-in credential", BOB, [], service="Device Registration Service"),
  audit("Directory_8f1a7c2e-0008", "2024-05-16T08:03:00Z", "Add platform credential", ALICE, [], service="Device Registration Service"),
  audit("Directory_8f1a7c2e-0009", "2024-05-17T08:00:00Z", "Delete Windows Hello for Business credential", ALICE, [], service="Device Registration Service"),
  # An AAGUID found only in the target's modifiedProperties (SearchableDeviceKey).
  audit("Directory_8f1a7c2e-0010", "2024-05-16T08:04:00Z", "Add FIDO2 security key", ALICE, [], service="Device Registration Service",
        props=[{"displayName": "SearchableDeviceKey", "oldValue": "[]",
                "newValue": json.dumps([{"usage": "FIDO", "keyIdentifier": "k1", "fidoAaGuid": "CB69481E-8FF7-4039-93EC-0A2729A154A8", "fidoAuthenticatorVersion": "5.2.7"}])}]),
  # Authentication Methods security-info audits: the method is in resultReason
  # or additionalDetails AuthenticationMethod.
  audit("Authentication Methods_8f1a7c2e-0011", "2024-05-16T08:00:01Z", "User registered security info", BOB,
        [{"key": "InitiatedFrom", "value": "MySignIns"}], reason="User registered Fido2 Authentication Method", op="Add"),
  audit("Authentication Methods_8f1a7c2e-0012", "2024-05-16T08:05:00Z", "Admin registered security info", BOB,
        [], initiator=("admin-0000", "admin@contoso.com", "Admin"), reason="Admin registered temporary access pass method for user", op="Add"),
  audit("Authentication Methods_8f1a7c2e-0013", "2024-05-16T08:06:00Z", "User registered security info", ALICE,
        [{"key": "AuthenticationMethod", "value": "Windows Hello for Business"}], reason="User registered Windows Hello for Business", op="Add"),
  audit("Authentication Methods_8f1a7c2e-0014", "2024-05-17T08:01:00Z", "User deleted security info", BOB,
        [], reason="User deleted Fido", op="Delete"),
  audit("Authentication Methods_8f1a7c2e-0015", "2024-05-17T08:02:00Z", "Admin deleted security info", BOB,
        [], initiator=("admin-0000", "admin@contoso.com", "Admin"), reason="Admin deleted Microsoft Authenticator Authentication Method for user", op="Delete"),
  audit("Authentication Methods_8f1a7c2e-0016", "2024-05-16T08:07:00Z", "User registered all required security info", ALICE,
        [], reason="User registered all required security info", op="Add"),
  audit("Authentication Methods_8f1a7c2e-0017", "2024-05-16T07:59:50Z", "Get passkey creation options", BOB,
        [], reason="Successfully retrieved passkey creation options.", op="Get"),
  audit("Authentication Methods_8f1a7c2e-0018", "2024-05-16T07:59:40Z", "User started security info registration", BOB, [], op="Add"),
]}
json.dump(audits, open("directory_audits_page.json", "w"), indent=2)

hub = {"records": [
  monitor("SignInLogs", page["value"][0], "2024-05-14T09:12:03.1234567Z"),
  monitor("NonInteractiveUserSignInLogs", page["value"][6], "2024-05-14T09:40:00.0000000Z"),
  monitor("AuditLogs", audits["value"][0], "2024-05-14T08:00:00.5000000Z"),
  # A1: non-interactive records name the original steps; nobody authenticated.
  monitor("NonInteractiveUserSignInLogs", signin("66ea54eb-6301-4ee5-be62-ff5a759b0200", "2024-05-14T09:50:00Z", ALICE,
          [step("FIDO2 security key", "YubiKey 5 NFC - FA2B99DC-9E39-4257-8F92-4A30D23C4118", result="MFA requirement satisfied by claim in the token")],
          interactive=False, beta={"incomingTokenType": "refreshToken"}), "2024-05-14T09:50:00.0000000Z"),
  # The Sekoia sample's shape: status.errorCode as a string, a step with a null method.
  monitor("SignInLogs", {"id": "66ea54eb-6301-4ee5-be62-ff5a759b0201", "createdDateTime": "2024-05-14T09:51:00Z", "userId": ALICE[0], "userPrincipalName": ALICE[1],
          "status": {"errorCode": "0"}, "authenticationRequirement": "multiFactorAuthentication",
          "authenticationDetails": [{"authenticationMethod": None, "authenticationMethodDetail": None, "authenticationStepDateTime": "2024-05-14T09:51:00Z",
                                     "authenticationStepRequirement": "User", "authenticationStepResultDetail": "MFA requirement satisfied by claim in the token", "succeeded": True}]},
          "2024-05-14T09:51:00.0000000Z"),
  # A3: service principals and managed identities are not people.
  monitor("ServicePrincipalSignInLogs", {"id": "66ea54eb-6301-4ee5-be62-ff5a759b0202", "createdDateTime": "2024-05-14T09:52:00Z",
          "appId": "5c2a1f3e-0000-4000-8000-00000000a1f0", "appDisplayName": "airflow-sync", "ipAddress": "198.51.100.9", "correlationId": "c1d2e3f4-0000-4000-8000-000000000202",
          "resourceDisplayName": "Microsoft Graph", "resourceId": "00000003-0000-0000-c000-000000000000", "servicePrincipalId": "9f1b7c3e-2d4a-4e5f-8a6b-0c1d2e3f4a5b",
          "servicePrincipalName": "airflow-sync", "servicePrincipalCredentialKeyId": "2f9e8d7c-6b5a-4948-8372-6150a4b3c2d1", "clientCredentialType": "clientSecret",
          "status": {"errorCode": 0, "failureReason": None, "additionalDetails": None}, "location": {"city": "Amsterdam", "state": "Noord-Holland", "countryOrRegion": "NL"}},
          "2024-05-14T09:52:00.0000000Z"),
  monitor("ManagedIdentitySignInLogs", {"id": "66ea54eb-6301-4ee5-be62-ff5a759b0203", "createdDateTime": "2024-05-14T09:53:00Z",
          "appId": "7d3c2b1a-0000-4000-8000-00000000b2e1", "appDisplayName": "airflow-vm", "ipAddress": "", "correlationId": "c1d2e3f4-0000-4000-8000-000000000203",
          "resourceDisplayName": "Azure Key Vault", "resourceId": "cfa8b339-82a2-471a-a3c9-0fc0be7a4093", "servicePrincipalId": "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b",
          "servicePrincipalName": "airflow-vm", "clientCredentialType": "managedIdentity",
          "managedServiceIdentity": {"msiType": "systemAssigned", "associatedResourceId": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/airflow/providers/Microsoft.Compute/virtualMachines/airflow-vm"},
          "status": {"errorCode": 0}}, "2024-05-14T09:53:00.0000000Z"),
  monitor("MicrosoftServicePrincipalSignInLogs", {"id": "66ea54eb-6301-4ee5-be62-ff5a759b0204", "createdDateTime": "2024-05-14T09:54:00Z",
          "appId": "00000003-0000-0ff1-ce00-000000000000", "appDisplayName": "Office 365 SharePoint Online", "servicePrincipalId": "1a2b3c4d-0000-4000-8000-00000000c3d2",
          "resourceDisplayName": "Microsoft Graph", "status": {"errorCode": 0}}, "2024-05-14T09:54:00.0000000Z"),
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
lines.append(json.dumps({"id": "edge-details-text", "createdDateTime": "2024-05-14T09:12:03Z", "status": {"errorCode": 0}, "authenticationDetails": "FIDO2 security key"}))
lines.append(json.dumps({"id": "edge-status-list", "createdDateTime": "2024-05-14T09:12:03Z", "status": [0]}))
# Type errors name the field and the record: a text, a list and a single object where Graph writes other shapes.
lines.append(json.dumps({"id": "edge-one-detail", "createdDateTime": "2024-05-14T09:12:03Z", "status": {"errorCode": 0}, "isInteractive": "true", "signInEventTypes": "interactiveUser",
                         "authenticationDetails": {"authenticationMethod": "Passkey (synced)", "authenticationMethodDetail": "iCloud - fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "succeeded": True}}))
lines.append('{"id": ')
open("edge_cases.ndjson", "w").write("\n".join(lines) + "\n")
