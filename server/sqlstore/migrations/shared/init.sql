{{- /* The first schema, written once for both dialects: .Int, .Blob, .Bool, .Serial and
.WithoutRowID are the dialect's words (migrate.go, schemaWords). */ -}}
CREATE TABLE users (
	id            {{.Serial}},
	name          TEXT NOT NULL UNIQUE,
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	created_at    {{.Int}} NOT NULL
);
CREATE TABLE sessions (
	id            TEXT PRIMARY KEY,
	user_id       {{.Int}} NOT NULL,
	created_at    {{.Int}} NOT NULL,
	expires_at    {{.Int}} NOT NULL,
	revoked_at    {{.Int}},
	revoke_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE TABLE refresh_tokens (
	hash        {{.Blob}} PRIMARY KEY,
	session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	parent_hash {{.Blob}},
	issued_at   {{.Int}} NOT NULL,
	used_at     {{.Int}}
){{.WithoutRowID}};
CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value {{.Blob}} NOT NULL
);
CREATE TABLE signing_keys (
	kid        TEXT PRIMARY KEY,
	alg        TEXT NOT NULL,
	private    {{.Blob}} NOT NULL,
	created_at {{.Int}} NOT NULL,
	active     {{.Bool}} NOT NULL,
	retire_at  {{.Int}}
);
