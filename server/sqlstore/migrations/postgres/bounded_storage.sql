-- Bounded storage (server/sqlstore/prune.go). gen numbers each token within its family's
-- chain, the first token 0, so that Rotate knows when to trim the chain's spent end without
-- counting rows; the chains are numbered here by walking them from the sessions' first tokens.
ALTER TABLE refresh_tokens ADD COLUMN gen BIGINT NOT NULL DEFAULT 0;
CREATE TEMP TABLE chain_gen (hash BYTEA PRIMARY KEY, gen BIGINT NOT NULL);
WITH RECURSIVE chain(hash, gen) AS (
	SELECT first_hash, 0::BIGINT FROM sessions WHERE first_hash IS NOT NULL
	UNION ALL
	SELECT t.hash, c.gen + 1 FROM refresh_tokens t JOIN chain c ON t.parent_hash = c.hash
)
INSERT INTO chain_gen SELECT hash, gen FROM chain;
UPDATE refresh_tokens SET gen = c.gen FROM chain_gen c WHERE c.hash = refresh_tokens.hash;

-- Trim what earlier versions kept: each family keeps its newest 32 spent tokens
-- (server.SpentTokensKept) and its live one, and its first_hash moves to the oldest kept.
CREATE TEMP TABLE family_keep (session_id TEXT PRIMARY KEY, keep_from BIGINT NOT NULL);
INSERT INTO family_keep SELECT session_id, MAX(gen) - 32 FROM refresh_tokens GROUP BY session_id HAVING MAX(gen) > 32;
DELETE FROM refresh_tokens t USING family_keep k WHERE k.session_id = t.session_id AND t.gen < k.keep_from;
UPDATE sessions s SET first_hash = t.hash
	FROM refresh_tokens t JOIN family_keep k ON k.session_id = t.session_id AND t.gen = k.keep_from
	WHERE s.id = t.session_id;
DROP TABLE chain_gen;
DROP TABLE family_keep;

-- /readyz writes here to prove that the database takes writes.
CREATE TABLE probe (
	id INTEGER PRIMARY KEY,
	at BIGINT NOT NULL
);

-- Facts the serving processes record for the commands on the same database, such as how
-- they sign (server.ServerSettingSigning), which `authctl keys rotate` checks.
CREATE TABLE server_settings (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
