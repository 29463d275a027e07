-- Admin actions are one event on two histories: the target's (`user_id`) and the acting
-- staff member's (`actor_id`). Staff filter everyone's events by user, kind and time.
ALTER TABLE audit_events ADD COLUMN actor_id BIGINT;
CREATE INDEX audit_events_actor_id ON audit_events (actor_id, created_at);
CREATE INDEX audit_events_kind ON audit_events (kind, created_at);
CREATE INDEX audit_events_created_at ON audit_events (created_at);

