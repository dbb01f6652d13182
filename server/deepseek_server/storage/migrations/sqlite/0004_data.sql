-- Files, uploads and datasets. Times are microseconds since the Unix epoch, UTC.
-- scope names what a file belongs to: 'job/<job id>' (its INPUT area) or 'dataset/<name>'.
CREATE TABLE datasets (
    owner               TEXT NOT NULL,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL,
    labels              TEXT NOT NULL,
    state               TEXT NOT NULL,
    create_time         INTEGER NOT NULL,
    seal_time           INTEGER,
    request_id          TEXT,
    request_fingerprint TEXT,
    PRIMARY KEY (owner, name)
);

CREATE INDEX datasets_by_request ON datasets (owner, request_id) WHERE request_id IS NOT NULL;

-- Finished, visible files (job inputs and dataset files); job outputs are read from disk.
CREATE TABLE data_files (
    owner       TEXT NOT NULL,
    scope       TEXT NOT NULL,
    path        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    sha256      BLOB NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (owner, scope, path)
);

-- committed_size is the truth about an upload's part file: bytes beyond it are discarded.
CREATE TABLE uploads (
    id             TEXT PRIMARY KEY,
    owner          TEXT NOT NULL,
    scope          TEXT NOT NULL,
    path           TEXT NOT NULL,
    total_size     INTEGER NOT NULL,
    sha256         BLOB NOT NULL,
    request_id     TEXT,
    overwrite      INTEGER NOT NULL,
    state          TEXT NOT NULL,
    committed_size INTEGER NOT NULL,
    create_time    INTEGER NOT NULL,
    update_time    INTEGER NOT NULL,
    expire_time    INTEGER NOT NULL
);

CREATE INDEX uploads_by_request ON uploads (owner, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX uploads_active ON uploads (expire_time) WHERE state = 'ACTIVE';
CREATE INDEX uploads_by_scope ON uploads (owner, scope, state);
