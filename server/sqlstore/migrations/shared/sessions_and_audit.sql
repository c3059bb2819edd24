-- What the sessions list shows beside a session's times: when it last rotated (NULL before
-- its first refresh) and the client's address and User-Agent at login.
ALTER TABLE sessions ADD COLUMN refreshed_at {{.Int}};
ALTER TABLE sessions ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

-- The audit trail of admin changes, written in the transaction of each change and read by
-- every running server, which logs each event once.
CREATE TABLE audit_log (
	id         {{.Serial}},
	at         {{.Int}} NOT NULL,
	actor      TEXT NOT NULL,
	via        TEXT NOT NULL,
	actor_addr TEXT NOT NULL DEFAULT '',
	action     TEXT NOT NULL,
	subject    TEXT NOT NULL DEFAULT '',
	detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log(at);
