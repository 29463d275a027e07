-- Every write that can make another process's cached principal stale notifies
-- `gatehouse_changes` (see core/src/db.rs, `Database::follow_other_processes`). Triggers, so
-- that no write path can forget it and writes made outside Gatehouse count too; PostgreSQL
-- sends the notification at commit, once per transaction however many rows changed.
CREATE FUNCTION gatehouse_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gatehouse_changes', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();

-- Pending email changes are cached per user.
CREATE TRIGGER email_tokens_changed AFTER INSERT OR UPDATE OR DELETE ON email_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_change();

-- A refresh (generation, rotation time) or the last-used touch changes nothing a cached
-- principal decides on: those updates stay silent, every other one notifies.
CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions
    FOR EACH ROW
    WHEN (to_jsonb(OLD) - 'refresh_generation' - 'rotated_at' - 'last_used_at'
          IS DISTINCT FROM to_jsonb(NEW) - 'refresh_generation' - 'rotated_at' - 'last_used_at')
    EXECUTE FUNCTION gatehouse_notify_change();
