-- Attempts per key in a fixed window, shared by every instance: login throttling (per client
-- address, per account, per account and address) and sign-ups per address. An attempt is
-- counted and checked in one transaction (`store::throttle::spend`), so concurrent attempts
-- cannot all slip under a budget. Rows whose window ended are pruned by the heartbeat.
-- Replaces login_throttle (its delays and counts are not carried over: they were minutes long).
DROP TABLE login_throttle;
CREATE TABLE rate_budgets (
    key text PRIMARY KEY,
    spent integer NOT NULL,
    window_end timestamptz NOT NULL
);
CREATE INDEX rate_budgets_window_end ON rate_budgets (window_end);
