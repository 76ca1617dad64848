-- correlations keyed by time: (policy_version, action_ts, action_id).
-- An evidence pack reads a period's population ordered by action time; with
-- this key the engine reads it in key order instead of sorting the period.
-- An action's time is fixed, so a re-correlated action still replaces its
-- older row. The table is rebuilt by copying; re-running after a failure at
-- any statement converges (the copy is idempotent: equal key and version).
-- On a cluster the table keeps its key (policy_version, action_id): the
-- cluster rendering rewrites CREATE and ALTER only, and a period read there is
-- merged from every shard through the Distributed table anyway.
{{- if not .Cluster}}
DROP TABLE IF EXISTS correlations_by_id;

CREATE TABLE IF NOT EXISTS correlations_by_time AS correlations
ENGINE = ReplacingMergeTree(version)
PARTITION BY {{month "action_ts"}}
ORDER BY (policy_version, action_ts, action_id);

INSERT INTO correlations_by_time SELECT * FROM correlations
{{unlimitedPartitions}};

RENAME TABLE correlations TO correlations_by_id, correlations_by_time TO correlations;

DROP TABLE IF EXISTS correlations_by_id;
{{- end}}
