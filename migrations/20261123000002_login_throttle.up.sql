-- Failed logins per account and per client address (issue #12), kept in PostgreSQL so that a
-- throttle holds across every server instance. `key` is 'account:<login>' or 'address:<ip>'.
CREATE TABLE login_throttle (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    window_start timestamptz NOT NULL DEFAULT now(),
    blocked_until timestamptz
);
