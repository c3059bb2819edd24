-- Rotation as one server-side function, so that a refresh costs one round trip. Superseded
-- by 0003; kept so that a database at any version migrates the same way.
CREATE OR REPLACE FUNCTION authctl_rotate(p_presented BYTEA, p_next BYTEA, p_now BIGINT, p_grace BIGINT)
RETURNS TABLE (outcome TEXT, sid TEXT, s_user BIGINT, s_created BIGINT, s_expires BIGINT, s_revoked BIGINT,
               s_reason TEXT, u_id BIGINT, u_name TEXT, u_role TEXT, u_hash TEXT, u_created BIGINT)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	t_used      BIGINT;
	child_used  BIGINT;
	child_found BOOLEAN := FALSE;
BEGIN
	SELECT t.used_at, s.id, s.user_id, s.created_at, s.expires_at, s.revoked_at, s.revoke_reason,
	       u.id, u.name, u.role, u.password_hash, u.created_at
	  INTO t_used, sid, s_user, s_created, s_expires, s_revoked, s_reason, u_id, u_name, u_role, u_hash, u_created
	  FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id LEFT JOIN users u ON u.id = s.user_id
	 WHERE t.hash = p_presented
	   FOR UPDATE OF t;
	IF NOT FOUND THEN outcome := 'not_found'; RETURN NEXT; RETURN; END IF;
	IF s_revoked IS NOT NULL OR u_id IS NULL THEN outcome := 'revoked'; RETURN NEXT; RETURN; END IF;
	IF p_now >= s_expires THEN outcome := 'expired'; RETURN NEXT; RETURN; END IF;
	IF t_used IS NULL THEN
		UPDATE refresh_tokens SET used_at = p_now WHERE hash = p_presented;
		INSERT INTO refresh_tokens (hash, session_id, parent_hash, issued_at) VALUES (p_next, sid, p_presented, p_now);
		outcome := 'rotated'; RETURN NEXT; RETURN;
	END IF;
	IF p_now - t_used <= p_grace THEN
		SELECT c.used_at, TRUE INTO child_used, child_found FROM refresh_tokens c WHERE c.parent_hash = p_presented LIMIT 1;
		IF child_found AND child_used IS NULL THEN outcome := 'replayed'; RETURN NEXT; RETURN; END IF;
	END IF;
	UPDATE sessions SET revoked_at = p_now, revoke_reason = 'reuse' WHERE id = sid AND revoked_at IS NULL;
	PERFORM pg_notify('authctl_revocations', sid);
	s_revoked := p_now;
	s_reason := 'reuse';
	outcome := 'reuse';
	RETURN NEXT;
END $$;
