-- Retention (core/retention.py) finds old rows by when their login ended, without scanning tables.
CREATE INDEX auth_sessions_ended_idx ON auth_sessions ((COALESCE(consumed_at, decided_at, expires_at)));
CREATE INDEX token_families_revoked_idx ON token_families (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX token_families_last_used_idx ON token_families ((COALESCE(last_refreshed_at, created_at)));

-- Supabase's default privileges give anon and authenticated every new table of the public schema,
-- and its Data API serves them to anyone holding the public anon key. The app tables hide their
-- rows under row-level security (0003); schema_migrations has none, so take the grant back.
DO $$
DECLARE
    api_role text;
BEGIN
    FOREACH api_role IN ARRAY ARRAY['anon', 'authenticated'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = api_role) THEN
            EXECUTE format('REVOKE ALL ON schema_migrations FROM %I', api_role);
        END IF;
    END LOOP;
END
$$;
