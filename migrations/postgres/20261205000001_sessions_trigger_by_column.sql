-- The sessions trigger of 20261126000001 told a silent update (a refresh, a last-used touch)
-- from one that matters by turning both row versions into jsonb: on every refresh, the most
-- frequent write there is. It now compares the columns a cached principal decides on (every
-- column but refresh_generation, rotated_at and last_used_at; the test
-- `two_processes::the_sessions_trigger_names_every_column_but_the_refresh_ones` fails if a
-- new column is not added here).
DROP TRIGGER sessions_changed ON sessions;

CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions
    FOR EACH ROW
    WHEN (ROW(OLD.id, OLD.user_id, OLD.kind, OLD.aal, OLD.amr, OLD.otp_device_id, OLD.second_factor_pending,
              OLD.ip, OLD.user_agent, OLD.created_at, OLD.expires_at, OLD.revoked_at, OLD.revoked_reason)
          IS DISTINCT FROM
          ROW(NEW.id, NEW.user_id, NEW.kind, NEW.aal, NEW.amr, NEW.otp_device_id, NEW.second_factor_pending,
              NEW.ip, NEW.user_agent, NEW.created_at, NEW.expires_at, NEW.revoked_at, NEW.revoked_reason))
    EXECUTE FUNCTION gatehouse_notify_change();
