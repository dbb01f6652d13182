-- The audit log: one row per audited event, hash-chained by sequence, and signed checkpoints of
-- the chain's head. Times are microseconds since the Unix epoch, UTC. Append-only: the triggers
-- refuse UPDATE and DELETE, so that only a deliberate schema change can alter history (and the
-- chain still shows it).
CREATE TABLE audit_records (
    sequence          INTEGER PRIMARY KEY,
    event_id          TEXT NOT NULL,
    time              INTEGER NOT NULL,
    user_id           TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    action            TEXT NOT NULL,
    method            TEXT NOT NULL,
    resource_id       TEXT NOT NULL,
    ip_address        TEXT NOT NULL,
    status_code       INTEGER NOT NULL,
    status            TEXT NOT NULL,
    duration_ms       REAL NOT NULL,
    request_id        TEXT NOT NULL,
    messages_received INTEGER NOT NULL,
    messages_sent     INTEGER NOT NULL,
    bytes_received    INTEGER NOT NULL,
    bytes_sent        INTEGER NOT NULL,
    system            INTEGER NOT NULL,
    detail            TEXT NOT NULL,
    prev_hash         BLOB NOT NULL,
    hash              BLOB NOT NULL
);

CREATE INDEX audit_records_by_user ON audit_records (user_id, sequence);
CREATE INDEX audit_records_by_resource ON audit_records (resource_id, sequence);

CREATE TABLE audit_checkpoints (
    sequence  INTEGER PRIMARY KEY,
    head_hash BLOB NOT NULL,
    time      INTEGER NOT NULL,
    signature TEXT NOT NULL,
    kid       TEXT NOT NULL
);

CREATE TRIGGER audit_records_append_only_update BEFORE UPDATE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER audit_records_append_only_delete BEFORE DELETE ON audit_records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER audit_checkpoints_append_only_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_append_only_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
