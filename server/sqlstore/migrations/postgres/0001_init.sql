CREATE TABLE users (
	id            BIGSERIAL PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    BIGINT NOT NULL
);
CREATE TABLE sessions (
	id            TEXT PRIMARY KEY,
	user_id       BIGINT NOT NULL,
	created_at    BIGINT NOT NULL,
	expires_at    BIGINT NOT NULL,
	revoked_at    BIGINT,
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE refresh_tokens (
	hash        BYTEA PRIMARY KEY,
	session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	parent_hash BYTEA,
	issued_at   BIGINT NOT NULL,
	used_at     BIGINT
);
CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);
CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	alg        TEXT NOT NULL,
	private    BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	active     BOOLEAN NOT NULL,
	retire_at  BIGINT
);
