-- Jobs, their labels (for filtering) and the numbered history of their state changes.
-- Times are microseconds since the Unix epoch, UTC.
CREATE TABLE jobs (
    id                  TEXT PRIMARY KEY,
    owner               TEXT NOT NULL,
    request_id          TEXT,
    request_fingerprint TEXT,
    job_name            TEXT NOT NULL,
    spec                TEXT NOT NULL,
    create_time         INTEGER NOT NULL,
    state               TEXT NOT NULL,
    status              TEXT NOT NULL,
    state_sequence      INTEGER NOT NULL
);

CREATE UNIQUE INDEX jobs_by_request ON jobs (owner, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX jobs_by_owner ON jobs (owner, create_time, id);
CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('CREATED', 'QUEUED', 'RUNNING');

CREATE TABLE job_labels (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (job_id, key)
);

CREATE INDEX job_labels_by_pair ON job_labels (key, value);

-- One row per state change: the job's changing fields (status) as they were after it.
CREATE TABLE job_events (
    sequence       INTEGER PRIMARY KEY,
    job_id         TEXT NOT NULL REFERENCES jobs (id),
    owner          TEXT NOT NULL,
    previous_state TEXT,
    time           INTEGER NOT NULL,
    status         TEXT NOT NULL
);

CREATE INDEX job_events_by_owner ON job_events (owner, sequence);
CREATE INDEX job_events_by_job ON job_events (job_id, sequence);
