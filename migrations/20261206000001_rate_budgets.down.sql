DROP TABLE rate_budgets;
CREATE TABLE login_throttle (
    key text PRIMARY KEY,
    failures integer NOT NULL,
    window_start timestamptz NOT NULL DEFAULT now(),
    blocked_until timestamptz
);
