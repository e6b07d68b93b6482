-- Least privilege for the running processes, and row-level security on every table.
--
-- The web app, the worker and the bot connect as a LOGIN role that is a member of the group
-- role dance_of_mind_app: it may read and write rows, and nothing else (no CREATE, DROP, ALTER,
-- TRUNCATE). Migrations run as the tables' owner (MIGRATION_DATABASE_URL). README.md, section
-- "Database roles", has the SQL an operator runs once to create the login role.
--
-- Row-level security: the app is a single tenant, so its policy lets the app role see every
-- row. What RLS adds is that any other role that is not the owner sees no row at all, even
-- when it holds SELECT: a reporting or read-only role, pg_read_all_data, or Supabase's
-- anon/authenticated roles, which its Data API serves to anyone holding the public anon key.
-- RLS is not FORCEd: the owner (migrations) and superusers bypass it, by design.

-- Roles belong to the whole server, not to this database: another database of the same server
-- may have created it already, or be creating it right now.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dance_of_mind_app') THEN
        BEGIN
            CREATE ROLE dance_of_mind_app NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE WARNING 'role dance_of_mind_app not created (the migrating role lacks CREATEROLE): '
                    'the app must connect as the owner until an administrator creates it and re-grants; '
                    'see README.md, "Database roles"';
        END;
    END IF;
END
$$;

-- Before Postgres 15 every role may create tables in the public schema: that is DDL for the app.
-- (Only the schema's owner can take it back; anyone else gets a harmless warning.)
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    END IF;
END
$$;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE token_families ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
    app_table text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dance_of_mind_app') THEN
        RETURN;
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO dance_of_mind_app', current_schema());
    FOREACH app_table IN ARRAY ARRAY['users', 'auth_sessions', 'token_families'] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO dance_of_mind_app', app_table);
        EXECUTE format(
            'CREATE POLICY dance_of_mind_app_rows ON %I TO dance_of_mind_app USING (true) WITH CHECK (true)',
            app_table
        );
    END LOOP;
    -- users.id is an identity column: its sequence is used on INSERT.
    EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO dance_of_mind_app', pg_get_serial_sequence('users', 'id'));
END
$$;
