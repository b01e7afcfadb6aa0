-- Room watchlists, price alerts and the latest refreshed price of every watched or alerted
-- symbol (docs/stocks.md). Symbols are stored as commands carry them: lower-case codes.

-- A symbol pinned to a room's ticker strip (at most 10 per room, checked by the server).
CREATE TABLE stock_watches (
    room_id bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    symbol text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 20),
    added_by bigint REFERENCES users (id) ON DELETE SET NULL,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, symbol)
);
CREATE INDEX stock_watches_symbol ON stock_watches (symbol);

-- A price alert. Active while fired_at is NULL. Firing is one UPDATE that sets fired_at only
-- where it is still NULL, so two servers handling the same prices fire it once; the room's
-- message is then stored with client_id 'alert:<id>' (idempotent per author) and its id
-- recorded in message_id. A fired alert without message_id is posted by whichever server
-- sweeps first (after a crash between the two steps, too).
CREATE TABLE stock_alerts (
    id bigserial PRIMARY KEY,
    room_id bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol text NOT NULL CHECK (length(symbol) BETWEEN 1 AND 20),
    op text NOT NULL CHECK (op IN ('>', '<', '%')),
    threshold numeric NOT NULL CHECK (threshold > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    fired_at timestamptz,
    fired_price numeric,
    fired_quote jsonb,
    message_id bigint REFERENCES room_messages (id) ON DELETE SET NULL
);
CREATE INDEX stock_alerts_active ON stock_alerts (symbol) WHERE fired_at IS NULL;
CREATE INDEX stock_alerts_room_active ON stock_alerts (room_id) WHERE fired_at IS NULL;
CREATE INDEX stock_alerts_user_active ON stock_alerts (user_id) WHERE fired_at IS NULL;
CREATE INDEX stock_alerts_unposted ON stock_alerts (id) WHERE fired_at IS NOT NULL AND message_id IS NULL;

-- The latest refreshed quote of a symbol (QuoteFields as JSON, without history).
CREATE TABLE stock_prices (
    symbol text PRIMARY KEY,
    quote jsonb NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now()
);

-- Refreshes asked of the bots and not yet too old: a price report is taken only for one of
-- these, and only for the symbols it asked (as stock_requests does for answers).
CREATE TABLE stock_refreshes (
    refresh_id uuid PRIMARY KEY,
    symbols text[] NOT NULL,
    asked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_refreshes_asked_at ON stock_refreshes (asked_at);

-- When the next scheduled refresh is due. The server that moves due_at forward (an UPDATE
-- WHERE due_at <= now()) asks for it: one refresh per period however many servers run.
CREATE TABLE stock_schedule (
    name text PRIMARY KEY,
    due_at timestamptz NOT NULL
);
