-- API clients and the keys that sign access tokens. Times are microseconds since the Unix
-- epoch, UTC. Secrets are stored only as scrypt hashes (base64url) with their salt and cost.
CREATE TABLE api_clients (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    secret_salt   TEXT NOT NULL,
    secret_params TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    enabled       INTEGER NOT NULL,
    create_time   INTEGER NOT NULL,
    update_time   INTEGER NOT NULL
);

CREATE INDEX api_clients_by_user ON api_clients (user_id);

-- At most one key has no retire_time: the one that signs new tokens. A retired key verifies
-- until the tokens it signed have expired, and is then deleted.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    algorithm       TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    public_jwk      TEXT NOT NULL,
    create_time     INTEGER NOT NULL,
    retire_time     INTEGER
);

-- Bumped by every change to clients or keys; running gateways poll it to reload their caches.
INSERT INTO gateway_meta (key, value) VALUES ('identity_version', '0');
