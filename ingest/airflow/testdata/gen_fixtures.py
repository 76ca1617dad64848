import json
OKTA="okta_00u1a2b3c4D5e6F7g8h9"
ENTRA="6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
GOOGLE="google_104857600123456789012"
def ev(id, when, event, owner, extra, dag_id=None, task_id=None, run_id=None, map_index=None, try_number=None, execution_date=None, **kw):
    d={"event_log_id":id,"when":when,"dag_id":dag_id,"task_id":task_id,"run_id":run_id,"map_index":map_index,"try_number":try_number,"event":event,"execution_date":execution_date,"owner":owner,"extra":extra}
    d.update(kw); return d
def page(key, items):
    return {key: items, "total_entries": len(items)}
def dump(name, obj):
    with open(name,"w") as f: json.dump(obj,f,indent=1,ensure_ascii=False); f.write("\n")

# Airflow 2.7: extra = str(list of (name, value) tuples) of the request values
# (airflow/www/decorators.py); REST calls (2.5+) log only dag_run.create and
# connection./variable.<create|edit|delete>, bare.
v27=[
 ev(1001,"2023-09-14T08:01:02.123456+00:00","trigger",OKTA,"[('dag_id', 'etl_daily'), ('origin', '/home'), ('run_id', ''), ('conf', '{\"source\": \"manual\"}'), ('unpause', 'on')]",dag_id="etl_daily"),
 ev(1002,"2023-09-14T08:02:00.5+00:00","paused",OKTA,"[('is_paused', 'false'), ('dag_id', 'etl_daily')]",dag_id="etl_daily"),
 ev(1003,"2023-09-14T08:03:00+00:00","paused",OKTA,"[('is_paused', 'true'), ('dag_id', 'etl_daily')]",dag_id="etl_daily"),
 ev(1004,"2023-09-14T08:04:00.000001+00:00","clear",ENTRA,"[('dag_id', 'etl_daily'), ('task_id', 'load'), ('execution_date', '2023-09-13T00:00:00+00:00'), ('upstream', 'false'), ('downstream', 'true'), ('future', 'false'), ('past', 'false'), ('confirmed', 'true'), ('only_failed', 'false')]",dag_id="etl_daily",task_id="load",execution_date="2023-09-13T00:00:00+00:00"),
 ev(1005,"2023-09-14T08:05:00+00:00","success",ENTRA,"[('dag_id', 'etl_daily'), ('task_id', 'load'), ('dag_run_id', 'scheduled__2023-09-13T00:00:00+00:00'), ('upstream', 'false'), ('downstream', 'false'), ('future', 'false'), ('past', 'false'), ('origin', '/dags/etl_daily/grid')]",dag_id="etl_daily",task_id="load"),
 ev(1006,"2023-09-14T08:06:00+00:00","success","airflow",None,dag_id="etl_daily",task_id="load",run_id="scheduled__2023-09-13T00:00:00+00:00",map_index=-1,try_number=1,execution_date="2023-09-13T00:00:00+00:00"),
 ev(1007,"2023-09-14T08:06:30+00:00","running","airflow",None,dag_id="etl_daily",task_id="transform",run_id="scheduled__2023-09-13T00:00:00+00:00",map_index=3,try_number=2,execution_date="2023-09-13T00:00:00+00:00"),
 ev(1008,"2023-09-14T08:07:00+00:00","dag_run.create","bob.builder","[('dag_id', 'etl_daily')]",dag_id="etl_daily"),
 ev(1009,"2023-09-14T08:08:00+00:00","connection.create",GOOGLE,"[('conn_id', 'warehouse'), ('conn_type', 'postgres'), ('host', 'db.internal'), ('login', 'etl'), ('password', '***'), ('port', '5432'), ('extra', '{\"sslmode\": \"require\"}')]"),
 ev(1010,"2023-09-14T08:09:00+00:00","graph",OKTA,"[('dag_id', 'etl_daily'), ('root', '')]",dag_id="etl_daily"),
 ev(1011,"2023-09-14T08:10:00+00:00","cli_dag_trigger","alice",json.dumps({"host_name":"bastion-1","full_command":"['/usr/local/bin/airflow', 'dags', 'trigger', 'etl_daily']"}),dag_id="etl_daily"),
 ev(1012,"2023-09-14T08:11:00+00:00","cli_scheduler","airflow",json.dumps({"host_name":"scheduler-0","full_command":"['/usr/local/bin/airflow', 'scheduler']"})),
 ev(1013,"2023-09-14T08:12:00+00:00","custom_plugin_action",OKTA,"[('dag_id', 'etl_daily')]",dag_id="etl_daily"),
 ev(1014,"2023-09-14T08:13:00+00:00","delete",OKTA,"[('dag_id', 'old_dag'), ('note', 'it\\'s \"done\"'), ('reason', \"it's gone\\n\"), ('dag_id', 'old_dag_again')]",dag_id="old_dag"),
 ev(1015,"2023-09-14T08:14:00+00:00","dagrun_clear",ENTRA,"[('dag_id', 'etl_daily'), ('dag_run_id', 'scheduled__2023-09-13T00:00:00+00:00'), ('only_failed', 'true')]",dag_id="etl_daily"),
 ev(1016,"2023-09-14T08:15:00+00:00","connection.create","carol@example.com","[]"),
 ev(1017,"2023-09-14T08:16:00+00:00","variable.delete","carol@example.com","[('variable_key', 'api_token')]"),
 ev(1018,"2023-09-14T08:17:00+00:00","dagrun.delete",ENTRA,"[('pk', '42')]"),
 ev(1019,"2023-09-14T08:18:00+00:00","action_muldelete",ENTRA,"[('action', 'muldelete'), ('rowid', '41'), ('rowid', '43')]"),
 ev(1020,"2023-09-14T08:19:00+00:00","cli_users_manage_role","root",json.dumps({"host_name":"bastion-1","full_command":"['/usr/local/bin/airflow', 'users', 'add-role', '-u', 'newbie', '-r', 'Op']"})),
]
dump("v1_2.7_event_logs.json", page("event_logs", v27))

# Airflow 2.6.2-2.6.3: the UI and REST decorator writes owner as
# "<username> (<full name>)".
v26=[
 ev(1101,"2023-07-01T09:00:00+00:00","trigger",OKTA+" (Alice Liddell)","[('dag_id', 'etl_daily'), ('origin', '/home')]",dag_id="etl_daily"),
 ev(1102,"2023-07-01T09:01:00+00:00","dag_run.create","carol@example.com (Carol Danvers)","[('dag_id', 'etl_daily')]",dag_id="etl_daily"),
 ev(1103,"2023-07-01T09:02:00+00:00","cli_dag_trigger","alice",json.dumps({"host_name":"bastion-1","full_command":"['airflow', 'dags', 'trigger', 'etl_daily']"}),dag_id="etl_daily"),
 ev(1104,"2023-07-01T09:03:00+00:00","success","data eng (team)",None,dag_id="etl_daily",task_id="load",run_id="manual__2023-07-01T09:00:00+00:00",map_index=-1,try_number=1),
]
dump("v1_2.6_event_logs.json", page("event_logs", v26))

# Airflow 2.8: extra is still str(list of tuples); the UI toggle's is_paused
# is skipped and the new state appended as a bool. REST calls as in 2.7.
v28=[
 ev(2001,"2024-01-05T10:00:00.123Z","paused","dave","[('dag_id', 'etl_daily'), ('is_paused', True)]",dag_id="etl_daily"),
 ev(2002,"2024-01-05T10:01:00.123Z","paused","dave","[('dag_id', 'etl_daily'), ('is_paused', False)]",dag_id="etl_daily"),
 ev(2003,"2024-01-05T10:02:00Z","dag_run.create","carol@example.com","[('dag_id', 'etl_daily')]",dag_id="etl_daily"),
 ev(2004,"2024-01-05T10:03:00Z","dagrun.create","dave","[('dag_id', 'etl_daily'), ('run_id', 'manual_2024_01_05'), ('state', 'queued'), ('execution_date', '2024-01-05 10:03:00'), ('conf', '{\"rows\": 10, \"big\": 12345678901234567890}')]",dag_id="etl_daily"),
 ev(2005,"2024-01-05T10:04:00Z","action_set_failed","dave","[('action', 'set_failed'), ('rowid', '12'), ('rowid', '13')]"),
 ev(2006,"2024-01-05T10:05:00Z","clear","dave","[('dag_id', 'etl_daily'), ('task_id', 'load'), ('dag_run_id', 'manual_2024_01_05'), ('upstream', 'false'), ('downstream', 'true'), ('future', 'false'), ('past', 'false'), ('only_failed', 'false')]",dag_id="etl_daily",task_id="load"),
 ev(2007,"2024-01-05T10:06:00Z","variable.create","dave","[('key', 'api_token'), ('val', '***'), ('description', '')]"),
 ev(2008,"2024-01-05T10:07:00Z","trigger","dave","[('dag_id', 'caf\\xe9_dag'), ('origin', '/dags/caf\\u00e9_dag/grid'), ('conf', '{}')]",dag_id="café_dag"),
 ev(2009,"2024-01-05T10:08:00Z","dagrun_failed","dave","[('dag_id', 'etl_daily'), ('dag_run_id', 'manual_2024_01_05'), ('confirmed', 'true'), ('origin', '/dags/etl_daily/grid')]",dag_id="etl_daily"),
 ev(2010,"2024-01-05T10:09:00Z","grid","dave","[('dag_id', 'etl_daily'), ('tab', 'graph'), ('dag_run_id', 'manual_2024_01_05')]",dag_id="etl_daily"),
 ev(2011,"2024-01-05T10:10:00Z","failed","data-eng",None,dag_id="etl_daily",task_id="load",run_id="manual_2024_01_05",map_index=-1,try_number=3),
 ev(2012,"2024-01-05T10:11:00Z","task","dave","<function task at 0x7f3a2c>",dag_id="etl_daily",task_id="load"),
 ev(2013,"2024-01-05T10:12:00Z","variable.create","carol@example.com","[]"),
 ev(2014,"2024-01-05T10:13:00Z","dagrun_success","dave","[('dag_id', 'etl_daily'), ('dag_run_id', 'manual_2024_01_05'), ('confirmed', 'false'), ('origin', '/dags/etl_daily/grid')]",dag_id="etl_daily"),
 ev(2015,"2024-01-05T10:14:00Z","legacy_tree","dave","{'dag_id': 'etl_daily', 'num_runs': '25'}",dag_id="etl_daily"),
]
dump("v1_2.8_event_logs.json", page("event_logs", v28))

# Airflow 2.10: extra = json.dumps(dict); api./ui. prefixes for REST calls;
# scheduler and executor rows; the scheduler's auto-pause.
v210=[
 ev(3001,"2024-06-01T10:00:00.654321+00:00","api.post_dag_run","carol@example.com",json.dumps({"conf":{},"dag_run_id":"manual__2024-06-01T10:00:00","note":None}),dag_id="etl_daily"),
 ev(3002,"2024-06-01T12:01:00.654321+02:00","ui.patch_dag",ENTRA,json.dumps({"is_paused":True}),dag_id="etl_daily"),
 ev(3003,"2024-06-01T10:02:00+00:00","paused",ENTRA,json.dumps({"is_paused":False}),dag_id="etl_daily"),
 ev(3004,"2024-06-01T10:03:00+00:00","api.connection.create","carol@example.com",json.dumps({"connection_id":"warehouse","conn_type":"postgres","host":"db.internal","password":"***","extra":{"sslmode":"require"}})),
 ev(3005,"2024-06-01T10:04:00+00:00","api.post_pool","carol@example.com",json.dumps({"name":"etl","slots":8})),
 ev(3006,"2024-06-01T10:05:00+00:00","cli_user_reset_password","root",json.dumps({"host_name":"bastion-1","full_command":"['airflow', 'users', 'reset-password', '-u', 'newbie', '--use-random-password']"})),
 ev(3007,"2024-06-01T10:06:00+00:00","api.delete_dag","carol@example.com","{}",dag_id="old_dag"),
 ev(3008,"2024-06-01T10:07:00+00:00","api.variable.edit","carol@example.com",json.dumps({"key":"api_token","value":"***"})),
 ev(3009,"2024-06-01T10:08:00+00:00","success",OKTA,json.dumps({"upstream":"false","downstream":"false","future":"false","past":"false","origin":"/dags/etl_daily/grid","map_index":"-1"}),dag_id="etl_daily",task_id="load",run_id="manual__2024-06-01T10:00:00"),
 ev(3010,"2024-06-01T10:09:00+00:00","success","airflow",None,dag_id="etl_daily",task_id="load",run_id="manual__2024-06-01T10:00:00",map_index=-1,try_number=1,execution_date="2024-06-01T10:00:00+00:00"),
 ev(3011,"2024-06-01T10:10:00+00:00","cli_task_clear","root",json.dumps({"host_name":"bastion-1","full_command":"['airflow', 'tasks', 'clear', 'etl_daily', '-y']"}),dag_id="etl_daily"),
 ev(3012,"2024-06-01T10:11:00+00:00","cli_dag_unpause","alice",json.dumps({"host_name":"bastion-1","full_command":"['airflow', 'dags', 'unpause', 'etl_daily']"}),dag_id="etl_daily"),
 ev(3013,"2024-06-01T10:12:00+00:00","cli_task_run","airflow",json.dumps({"host_name":"worker-3","full_command":"['airflow', 'tasks', 'run', 'etl_daily', 'load', 'manual__2024-06-01T10:00:00', '--local']"}),dag_id="etl_daily",task_id="load",execution_date="2024-06-01T10:00:00+00:00"),
 ev(3014,"2024-06-01T10:13:00+00:00","up_for_retry","airflow",None,dag_id="etl_daily",task_id="transform",run_id="manual__2024-06-01T10:00:00",map_index=-1,try_number=1),
 ev(3015,"2024-06-01T10:14:00+00:00","ui.frobnicate_dag",ENTRA,json.dumps({"x":1}),dag_id="etl_daily"),
 ev(3016,"2024-06-01T10:15:00+00:00","ui.post_clear_task_instances",ENTRA,json.dumps({"dry_run":True,"task_ids":["load"],"only_failed":False}),dag_id="etl_daily"),
 ev(3017,"2024-06-01T10:15:30+00:00","ui.post_clear_task_instances",ENTRA,json.dumps({"dry_run":False,"task_ids":["load"],"only_failed":False}),dag_id="etl_daily"),
 ev(3018,"2024-06-01T10:16:00+00:00","api.post_set_task_instances_state","carol@example.com",json.dumps({"task_id":"load","new_state":"success"}),dag_id="etl_daily"),
 ev(3019,"2024-06-01T10:17:00+00:00","api.patch_mapped_task_instance","carol@example.com",json.dumps({"map_index":"2","dry_run":False,"new_state":"failed"}),dag_id="etl_daily",task_id="load",run_id="manual__2024-06-01T10:00:00"),
 ev(3020,"2024-06-01T10:18:00+00:00","stuck in queued",None,"Task was in queued state for longer than 600.0 seconds; task state will be set back to scheduled.",dag_id="etl_daily",task_id="load",run_id="manual__2024-06-01T10:00:00",map_index=-1,try_number=1),
 ev(3021,"2024-06-01T10:19:00+00:00","task launch failure",None,"Task launch failed; retry limit reached",dag_id="etl_daily",task_id="load",run_id="manual__2024-06-01T10:00:00",map_index=-1,try_number=1),
 ev(3022,"2024-06-01T10:20:00+00:00","ecs task submit failure",None,"Task could not be queued because the ECS cluster is unavailable",dag_id="etl_daily",task_id="load",run_id="manual__2024-06-01T10:00:00",map_index=-1,try_number=1),
 ev(3023,"2024-06-01T10:21:00+00:00","paused","scheduler","[('dag_id', 'etl_daily'), ('is_paused', True)]",dag_id="etl_daily",owner_display_name="Scheduler"),
 ev(3024,"2024-06-01T10:22:00+00:00","taskinstance.delete",OKTA,json.dumps({"pk":"17"})),
 ev(3025,"2024-06-01T10:23:00+00:00","confirm",OKTA,json.dumps({"state":"success","upstream":"false","downstream":"false","future":"false","past":"false"}),dag_id="etl_daily",task_id="load"),
]
dump("v1_2.10_event_logs.json", page("event_logs", v210))

# Airflow 3.0: /api/v2/eventLogs; event = FastAPI endpoint name; clear dry
# runs (dry_run defaults to true) are logged; is_paused is recorded as
# (value == "false"), false for every JSON body.
def ev3(id, when, event, owner, extra, **kw):
    d=ev(id, when, event, owner, extra, **kw)
    d["logical_date"]=d.pop("execution_date")
    d["owner_display_name"]=kw.get("owner_display_name")
    d["dag_display_name"]=d.get("dag_id")
    d["task_display_name"]=d.get("task_id")
    d["team_name"]=None
    return d
v30=[
 ev3(6001,"2025-05-02T09:00:00Z","clear_dag_run","dave",json.dumps({"only_failed":False,"method":"POST"}),dag_id="etl_daily",run_id="scheduled__2025-05-01T00:00:00+00:00"),
 ev3(6002,"2025-05-02T09:01:00Z","post_clear_task_instances","dave",json.dumps({"dry_run":True,"task_ids":["load"],"method":"POST"}),dag_id="etl_daily"),
 ev3(6003,"2025-05-02T09:02:00Z","post_clear_task_instances","dave",json.dumps({"dry_run":False,"task_ids":["load"],"method":"POST"}),dag_id="etl_daily"),
 ev3(6004,"2025-05-02T09:03:00Z","patch_dag","dave",json.dumps({"is_paused":False,"method":"PATCH"}),dag_id="etl_daily"),
 ev3(6005,"2025-05-02T09:04:00Z","task launch failure",None,"Task launch failed; retry limit reached",dag_id="etl_daily",task_id="load",run_id="scheduled__2025-05-01T00:00:00+00:00",map_index=-1,try_number=1),
 ev3(6006,"2025-05-02T09:05:00Z","cli_asset_materialize","alice",json.dumps({"host_name":"bastion-1","full_command":"['airflow', 'assets', 'materialize', '--name', 'orders']"})),
]
dump("v2_3.0_event_logs.json", page("event_logs", v30))

# Airflow 3.1: as 3.0, but clear dry runs are not logged and is_paused is the
# value sent.
v31=[
 ev3(4001,"2025-06-02T09:15:00.123456Z","trigger_dag_run",OKTA,json.dumps({"dag_run_id":None,"logical_date":None,"conf":{"rows":5},"note":None,"method":"POST"}),dag_id="etl_daily",owner_display_name="Alice Liddell"),
 ev3(4002,"2025-06-02T09:16:00Z","patch_dag",OKTA,json.dumps({"is_paused":True,"method":"PATCH"}),dag_id="etl_daily"),
 ev3(4003,"2025-06-02T09:17:00Z","patch_dag",OKTA,json.dumps({"is_paused":False,"method":"PATCH"}),dag_id="etl_daily"),
 ev3(4004,"2025-06-02T09:18:00Z","clear_dag_run","dave",json.dumps({"dry_run":False,"only_failed":False,"method":"POST"}),dag_id="etl_daily",run_id="manual__2025-06-02T09:15:00.123456+00:00"),
 ev3(4005,"2025-06-02T09:19:00Z","post_clear_task_instances","dave",json.dumps({"dry_run":False,"task_ids":["load"],"only_failed":True,"method":"POST"}),dag_id="etl_daily"),
 ev3(4006,"2025-06-02T09:20:00Z","patch_variable","dave",json.dumps({"key":"api_token","value":"***","description":None,"method":"PATCH"})),
 ev3(4007,"2025-06-02T09:21:00Z","post_connection","dave",json.dumps({"connection_id":"warehouse","conn_type":"postgres","password":"***","method":"POST"})),
 ev3(4008,"2025-06-02T09:22:00Z","create_backfill","dave",json.dumps({"dag_id":"etl_daily","from_date":"2025-05-01T00:00:00Z","to_date":"2025-05-31T00:00:00Z","max_active_runs":4,"method":"POST"}),dag_id="etl_daily"),
 ev3(4009,"2025-06-02T09:23:00Z","materialize_asset","dave",json.dumps({"asset_id":"7","method":"POST"})),
 ev3(4010,"2025-06-02T09:24:00Z","delete_dag_run","dave",json.dumps({"method":"DELETE"}),dag_id="etl_daily",run_id="manual__2025-06-01T00:00:00+00:00"),
 ev3(4011,"2025-06-02T09:25:00Z","patch_task_instance","dave",json.dumps({"new_state":"success","note":None,"include_upstream":False,"method":"PATCH"}),dag_id="etl_daily",task_id="load",run_id="manual__2025-06-02T09:15:00.123456+00:00",map_index=-1),
 ev3(4012,"2025-06-02T09:26:00Z","patch_task_instance","dave",json.dumps({"note":"investigating","method":"PATCH"}),dag_id="etl_daily",task_id="load",run_id="manual__2025-06-02T09:15:00.123456+00:00",map_index=-1),
 ev3(4013,"2025-06-02T09:27:00Z","running","airflow",None,dag_id="etl_daily",task_id="load",run_id="manual__2025-06-02T09:15:00.123456+00:00",map_index=-1,try_number=1,execution_date="2025-06-02T09:15:00.123456Z"),
 ev3(4014,"2025-06-02T09:28:00Z","cli_dag_trigger","alice",json.dumps({"host_name":"bastion-1","full_command":"['airflow', 'dags', 'trigger', 'etl_daily']"}),dag_id="etl_daily"),
 ev3(4015,"2025-06-02T09:29:00Z","fail task",None,"Marking task as FAILED because the DAG run failed",dag_id="etl_daily",task_id="transform",run_id="manual__2025-06-02T09:15:00.123456+00:00",map_index=-1,try_number=1),
 ev3(4016,"2025-06-02T09:30:00Z","skip task",None,"Marking task as SKIPPED because the DAG run failed",dag_id="etl_daily",task_id="report",run_id="manual__2025-06-02T09:15:00.123456+00:00",map_index=-1,try_number=1),
 ev3(4017,"2025-06-02T09:31:00Z","get_task_instances_batch","dave",json.dumps({"dag_ids":["etl_daily"],"method":"POST"})),
 ev3(4018,"2025-06-02T09:32:00Z","cli_team_create","root",json.dumps({"host_name":"bastion-1","full_command":"['airflow', 'teams', 'create', 'data-eng']"})),
 ev3(4019,"2025-06-02T09:33:00Z","lambda invoke failure",None,"Task could not be queued: Lambda function throttled",dag_id="etl_daily",task_id="load",run_id="manual__2025-06-02T09:15:00.123456+00:00",map_index=-1,try_number=1),
 ev3(4020,"2025-06-02T09:34:00Z","paused","scheduler","[('dag_id', 'etl_daily'), ('is_paused', True)]",dag_id="etl_daily",owner_display_name="Scheduler"),
]
dump("v2_3.1_event_logs.json", page("event_logs", v31))

# DAG runs, Airflow 2.2 /api/v1/dags/~/dagRuns: no run_type (added in 2.4).
def run22(run_id, state, logical, start, end, ext):
    return {"dag_run_id":run_id,"dag_id":"etl_daily","logical_date":logical,"execution_date":logical,"start_date":start,"end_date":end,
            "state":state,"external_trigger":ext,"conf":{}}
r22=[
 run22("manual__2022-03-01T10:00:00+00:00","success","2022-03-01T10:00:00+00:00","2022-03-01T10:00:01+00:00","2022-03-01T10:05:00+00:00",True),
 run22("my_custom_run","running","2022-03-01T11:00:00+00:00","2022-03-01T11:00:01+00:00",None,True),
 run22("scheduled__2022-02-28T00:00:00+00:00","success","2022-02-28T00:00:00+00:00","2022-03-01T00:00:02+00:00","2022-03-01T00:10:00+00:00",False),
 run22("backfill__2022-02-01T00:00:00+00:00","success","2022-02-01T00:00:00+00:00","2022-03-01T09:00:00+00:00","2022-03-01T09:05:00+00:00",False),
 run22("odd_run","queued","2022-03-01T12:00:00+00:00",None,None,False),
]
dump("v1_2.2_dag_runs.json", page("dag_runs", r22))

# DAG runs, Airflow 2.10 /api/v1/dags/~/dagRuns
def run2(run_id, run_type, state, logical, start, end, conf, ext):
    return {"dag_run_id":run_id,"dag_id":"etl_daily","logical_date":logical,"execution_date":logical,"start_date":start,"end_date":end,
            "data_interval_start":logical,"data_interval_end":logical,"last_scheduling_decision":end,"run_type":run_type,"state":state,
            "external_trigger":ext,"conf":conf,"note":None}
r210=[
 run2("manual__2024-06-01T10:00:00","manual","success","2024-06-01T10:00:00+00:00","2024-06-01T10:00:01.52+00:00","2024-06-01T10:05:00+00:00",{"rows":10},True),
 run2("scheduled__2024-05-31T00:00:00+00:00","scheduled","success","2024-05-31T00:00:00+00:00","2024-06-01T00:00:02.000001+00:00","2024-06-01T00:10:00+00:00",{},False),
 run2("dataset_triggered__2024-06-01T11:00:00+00:00","dataset_triggered","running","2024-06-01T11:00:00+00:00","2024-06-01T11:00:03+00:00",None,{},False),
 run2("backfill__2024-05-01T00:00:00+00:00","backfill","queued","2024-05-01T00:00:00+00:00",None,None,{},False),
]
dump("v1_2.10_dag_runs.json", page("dag_runs", r210))

# DAG runs, Airflow 3.1 /api/v2/dags/~/dagRuns
def run3(run_id, run_type, state, logical, queued, start, end, trig, user, conf):
    return {"dag_run_id":run_id,"dag_id":"etl_daily","logical_date":logical,"queued_at":queued,"start_date":start,"end_date":end,"duration":None,
            "data_interval_start":logical,"data_interval_end":logical,"run_after":logical or queued,"last_scheduling_decision":None,
            "run_type":run_type,"state":state,"triggered_by":trig,"triggering_user_name":user,"conf":conf,"note":None,
            "dag_versions":[{"id":"0196b1d2-0000-7000-8000-000000000001","version_number":3,"dag_id":"etl_daily","bundle_name":"dags-folder","bundle_version":None,"created_at":"2025-06-01T00:00:00Z","dag_display_name":"etl_daily","bundle_url":None}],
            "bundle_version":None,"dag_display_name":"etl_daily"}
r31=[
 run3("manual__2025-06-02T09:15:00.123456+00:00","manual","success","2025-06-02T09:15:00.123456Z","2025-06-02T09:15:00.2Z","2025-06-02T09:15:01Z","2025-06-02T09:20:00Z","ui",OKTA,{"rows":5}),
 run3("manual__2025-06-02T10:00:00+00:00","manual","running",None,"2025-06-02T10:00:00.5Z",None,None,"rest_api","carol@example.com",{}),
 run3("manual__2025-06-02T11:00:00+00:00","manual","queued","2025-06-02T11:00:00Z","2025-06-02T11:00:00.25Z",None,None,"cli","alice",{}),
 run3("scheduled__2025-06-01T00:00:00+00:00","scheduled","success","2025-06-01T00:00:00Z","2025-06-02T00:00:01Z","2025-06-02T00:00:02Z","2025-06-02T00:05:00Z","timetable",None,{}),
 run3("asset_triggered__2025-06-02T12:00:00+00:00","asset_triggered","success",None,"2025-06-02T12:00:00Z","2025-06-02T12:00:01Z","2025-06-02T12:01:00Z","asset",None,{}),
 run3("backfill__2025-05-01T00:00:00+00:00","backfill","success","2025-05-01T00:00:00Z","2025-06-02T09:22:05Z","2025-06-02T09:22:06Z","2025-06-02T09:30:00Z","backfill","dave",{}),
]
dump("v2_3.1_dag_runs.json", page("dag_runs", r31))

# Rows exported from the metadata DB table `log` (psql row_to_json), one per line.
db=[
 {"id":5001,"dttm":"2024-02-03 04:05:06.789+00","dag_id":"etl_daily","task_id":None,"map_index":None,"event":"trigger","execution_date":None,"owner":"alice@example.com","owner_display_name":"Alice L","extra":"[('dag_id', 'etl_daily')]","run_id":None,"try_number":None},
 {"id":"5002","dttm":"2024-02-03 04:05:07+00","dag_id":"etl_daily","task_id":"load","map_index":"-1","event":"running","execution_date":"2024-02-02 00:00:00+00","owner":"airflow","owner_display_name":None,"extra":None,"run_id":"scheduled__2024-02-02T00:00:00+00:00","try_number":"1"},
 {"id":5003,"dttm":"2024-02-03T04:05:08.1234567+0100","dag_id":None,"task_id":None,"map_index":None,"event":"cli_connections_add","execution_date":None,"owner":"root","owner_display_name":None,"extra":"{\"host_name\": \"bastion-1\", \"full_command\": \"['airflow', 'connections', 'add', 'warehouse', '--conn-password', '********']\"}","run_id":None,"try_number":None},
 {"id":5004,"dttm":"2024-02-03 04:05:09","dag_id":"etl_daily","task_id":None,"map_index":None,"event":"cli_users_create","execution_date":None,"owner":"root","owner_display_name":None,"extra":"{\"host_name\": \"bastion-1\"}","run_id":None,"try_number":None},
]
with open("db_log_export.ndjson","w") as f:
    for r in db: f.write(json.dumps(r)+"\n")

# A JSON array mixing both kinds, including a row of the metadata table `dag_run`.
mixed=[
 v210[0],
 r31[0],
 {"id":77,"dag_id":"etl_daily","queued_at":"2024-02-03 04:05:06.9+00","execution_date":"2024-02-03 04:05:06+00","start_date":None,"end_date":None,"state":"queued","run_id":"manual__2024-02-03T04:05:06+00:00","creating_job_id":None,"external_trigger":True,"run_type":"manual","conf":"{'rows': 3}","data_interval_start":None,"data_interval_end":None,"last_scheduling_decision":None,"dag_hash":"abc","log_template_id":2,"updated_at":None,"clear_number":0},
]
dump("mixed_array.json", mixed)

# Edge cases: every line must be accepted or rejected with a reason.
edge=[
 '{"event":"trigger","when":"2024-01-01T00:00:00Z","owner":"x"}',
 '{"event_log_id":9001,"event":"trigger","owner":"x"}',
 '{"event_log_id":9002,"when":"yesterday","event":"trigger"}',
 '{"event_log_id":9003,"when":"2024-01-01T00:00:00Z","event":""}',
 '42',
 '{"foo":1}',
 '{"dag_id":"d","dag_run_id":"r","run_type":"manual","state":"queued"}',
 '{"dag_run_id":"r","run_type":"manual","queued_at":"2024-01-01T00:00:00Z"}',
 '{"event_log_id":0,"when":"2024-01-01T00:00:00Z","event":"trigger"}',
 '{"event_log_id":9004,"when":"2024-01-01T00:00:00Z","event":"trigger","map_index":"abc"}',
 '{"event_log_id":9005,"when":"2024-01-01T00:00:00Z","event":"trigger", broken',
 '{"event_log_id":9006,"when":"2024-01-01T00:00:00Z","event":"trigger","owner":"dave","extra":null}',
 '{"event_log_id":9006,"when":"2024-01-01T00:00:00Z","event":"trigger","owner":"dave","extra":null}',
 '{"event_log_id":9007,"when":"2024-01-01T00:00:00","event":"brand_new_event","owner":"dave"}',
 '{"event_log_id":9008,"when":"2024-01-01 00:00:00.1234567-05:30","event":"cli_something_new","owner":"root"}',
 '{"event_log_id":9009,"when":"2024-02-30T00:00:00Z","event":"trigger"}',
 '{"event_log_id":9010,"when":"2024-01-01T00:00:00Z","event":"trigger","execution_date":"soon"}',
 '{"event_log_id":"9011","when":"2024-01-01T00:00:00+05","event":"paused","owner":"dave","extra":{"is_paused":true}}',
 '{"event_log_id":9012,"when":"2024-01-01T00:00:00Z","event":"paused","owner":"dave"}',
 '{"event_log_id":9013,"when":null,"dttm":"2024-01-01T00:00:00Z","event":"graph","owner":"dave"}',
 '{"event_log_id":9014,"when":"2024-01-01T00:00:00Z","event":"trigger","dag_id":12}',
 '{"event_log_id":9015,"when":"2024-01-01T00:00:00Z","event":"trigger","dag_id":{"x":1}}',
 '{"event_log_id":1e3,"when":"2024-01-01T00:00:00Z","event":"trigger"}',
]
with open("edge_cases.ndjson","w") as f:
    f.write("\n".join(edge)+"\n")

# A single record.
dump("single_record.json", v31[0])
