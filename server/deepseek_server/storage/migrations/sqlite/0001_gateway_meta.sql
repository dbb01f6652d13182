-- Facts about this installation that outlive restarts. installation_id names what the
-- gateway submits elsewhere (scheduler jobs, files on shared storage) as this installation's.
CREATE TABLE gateway_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO gateway_meta (key, value) VALUES ('installation_id', lower(hex(randomblob(16))));
