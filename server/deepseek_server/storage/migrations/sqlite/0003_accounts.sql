-- Accounts: per-user quota overrides and the charge of every job that ran.
-- Money is integer minor units of the billing currency; times are microseconds since the epoch.
CREATE TABLE quota_overrides (
    user_id TEXT NOT NULL,
    kind    TEXT NOT NULL,
    quota   INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);

CREATE TABLE job_charges (
    job_id            TEXT PRIMARY KEY REFERENCES jobs (id),
    owner             TEXT NOT NULL,
    job_name          TEXT NOT NULL,
    start_time        INTEGER NOT NULL,
    end_time          INTEGER NOT NULL,
    billed_seconds    INTEGER NOT NULL,
    core_seconds      INTEGER NOT NULL,
    gpu_type          TEXT,
    gpu_seconds       INTEGER NOT NULL,
    memory_gb_seconds INTEGER NOT NULL,
    currency          TEXT NOT NULL,
    amount            INTEGER NOT NULL
);

CREATE INDEX job_charges_by_owner ON job_charges (owner, end_time, job_id);

INSERT INTO gateway_meta (key, value) VALUES ('quota_overrides_version', '0');
