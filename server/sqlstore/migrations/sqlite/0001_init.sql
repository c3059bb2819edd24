CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    INTEGER NOT NULL
);
CREATE TABLE sessions (
	id            TEXT PRIMARY KEY,
	user_id       INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	revoked_at    INTEGER,
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE refresh_tokens (
	hash        BLOB PRIMARY KEY,
	session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	parent_hash BLOB,
	issued_at   INTEGER NOT NULL,
	used_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	alg        TEXT NOT NULL,
	private    BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	active     INTEGER NOT NULL,
	retire_at  INTEGER
);
