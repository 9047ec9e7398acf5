-- Job templates.
--
-- A work pool may carry a base job template: JSON text
-- {"variables": <JSON Schema of the job variables>, "defaults": {...}},
-- kept as text so numbers keep their exact digits; '' means none.
-- A run keeps the job variables it was created with (its own values only);
-- the dispatcher lays them over the deployment's and the pool's defaults.
ALTER TABLE work_pools ADD COLUMN base_job_template text NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN job_variables jsonb NOT NULL DEFAULT '{}';
