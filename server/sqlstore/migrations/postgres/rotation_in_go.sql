-- The rotation rules now live in Go (server/rotation.go), written once for both stores; the
-- store locks the presented token itself and sends its writes with the COMMIT.
DROP FUNCTION IF EXISTS authctl_rotate(BYTEA, BYTEA, BIGINT, BIGINT);

-- The schema takes SQLite's shape (its migration 0002): every index on refresh_tokens is
-- written by every rotation, and the one on session_id served only the cascading delete.
-- Tokens are found for deletion by walking each family's chain from its first token through
-- the parent index instead, so that index and the foreign key go. The row lock the foreign
-- key took on the session (FOR KEY SHARE) is now taken by the rotation's locking read, so a
-- concurrent DeleteExpired still cannot miss a successor being inserted.
ALTER TABLE sessions ADD COLUMN first_hash BYTEA;
UPDATE sessions SET first_hash =
	(SELECT hash FROM refresh_tokens WHERE session_id = sessions.id AND parent_hash IS NULL LIMIT 1);
ALTER TABLE refresh_tokens DROP CONSTRAINT IF EXISTS refresh_tokens_session_id_fkey;
DROP INDEX IF EXISTS refresh_tokens_session;
