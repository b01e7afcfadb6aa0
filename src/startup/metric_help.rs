//! The server's metrics, each with its help text (`docs/metrics.md` says more), described once
//! at start-up.

/// Every metric of the server, with its help text (`docs/metrics.md` says more).
pub(super) fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("tickertalk_websockets_open", "WebSockets open on this instance");
    describe_gauge!(
        "tickertalk_room_memberships",
        "Room joins of this instance's sockets (a socket in 3 rooms counts 3)"
    );
    describe_counter!(
        "tickertalk_messages_stored_total",
        "Messages stored, by kind (room, direct, answer: the bot's stored answers)"
    );
    describe_counter!("tickertalk_deliveries_total", "Room messages written to sockets");
    describe_histogram!(
        "tickertalk_delivery_latency_seconds",
        Unit::Seconds,
        "Per socket write carrying room messages: from its oldest message's storing to the write"
    );
    describe_counter!(
        "tickertalk_sockets_cut_total",
        "Sockets the server closed, by reason (slow: send buffer full or write timed out; idle: no pong; refused: 20 refused frames in a row)"
    );
    describe_counter!(
        "tickertalk_frames_dropped_total",
        "Frames dropped because a socket's send buffer was full (the socket is then cut)"
    );
    describe_gauge!(
        "tickertalk_broker_connected",
        "1 while this instance is connected to RabbitMQ"
    );
    describe_counter!(
        "tickertalk_broker_reconnects_total",
        "Broker connections after the first"
    );
    describe_counter!(
        "tickertalk_room_items_received_total",
        "Room messages and changes this instance received from the broker"
    );
    describe_counter!(
        "tickertalk_room_items_needed_total",
        "Of those, the ones for rooms with a socket on this instance"
    );
    describe_gauge!(
        "tickertalk_broker_shard_bindings",
        "Room shards this instance's event queue is bound to"
    );
    describe_counter!(
        "tickertalk_broker_binding_changes_total",
        "Room-shard bindings added (change=bind) and removed (change=unbind)"
    );
    describe_histogram!(
        "tickertalk_broker_publish_seconds",
        Unit::Seconds,
        "Handing one publish to the broker channel"
    );
    describe_histogram!(
        "tickertalk_broker_confirm_seconds",
        Unit::Seconds,
        "From a publish to the broker's confirm"
    );
    describe_counter!(
        "tickertalk_broker_confirm_failures_total",
        "Publishes not confirmed (nack, timeout, channel lost)"
    );
    describe_counter!(
        "tickertalk_gap_fills_total",
        "Reads of missed room messages from PostgreSQL (a gap in the broker's stream, or a reconnect)"
    );
    describe_counter!(
        "tickertalk_direct_fills_total",
        "Direct-message catch-ups read after a broker reconnect"
    );
    describe_gauge!(
        "tickertalk_db_pool_connections",
        "PostgreSQL pool connections, by state (idle, busy)"
    );
    describe_gauge!(
        "tickertalk_db_pool_max_connections",
        "PostgreSQL pool size limit (DB_MAX_CONNECTIONS)"
    );
    describe_histogram!(
        "tickertalk_db_pool_acquire_seconds",
        Unit::Seconds,
        "Wait for a pool connection, sampled once a second"
    );
    describe_counter!(
        "tickertalk_http_requests_total",
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        "tickertalk_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by method and route pattern"
    );
    describe_counter!(
        "tickertalk_logins_total",
        "Password checks at login, by result (success, failure, throttled)"
    );
    describe_counter!(
        "tickertalk_stock_commands_total",
        "Stock commands handed to the bot's queue"
    );
    describe_gauge!(
        "tickertalk_stock_bot_consumers",
        "Bots consuming the command queue, as last seen when a command was sent"
    );
    describe_counter!(
        "tickertalk_stock_answers_refused_total",
        "Answers from the answer queue not stored, by why (no_request, other_room, invalid_text, no_refresh)"
    );
    describe_counter!(
        "tickertalk_price_refreshes_total",
        "Price refreshes asked of the bots (scheduled, or for a symbol just watched or alerted)"
    );
    describe_counter!(
        "tickertalk_price_alerts_fired_total",
        "Price alerts fired by a refresh (each once)"
    );
    describe_counter!(
        "tickertalk_refresh_reuse_total",
        "Replaced refresh tokens presented again; each revoked its session"
    );
    describe_counter!(
        "tickertalk_broker_unsent_dropped_total",
        "Failed publishes forgotten because more than 1,024 waited for the broker"
    );
    describe_counter!(
        "tickertalk_stock_unanswered_total",
        "Stock commands answered \"unavailable\" by the server, by why (no_bot, broker_unreachable, dead_letter)"
    );
    // Every counter's series exist from the start at 0: Prometheus's rate() and increase()
    // miss the first increment of a series that appears with it.
    use tickertalk_wire::prometheus::zero;
    zero(
        "tickertalk_messages_stored_total",
        "kind",
        &["room", "direct", "answer"],
    );
    zero(
        "tickertalk_broker_binding_changes_total",
        "change",
        &["bind", "unbind"],
    );
    zero(
        "tickertalk_sockets_cut_total",
        "reason",
        &["slow", "idle", "refused"],
    );
    zero(
        "tickertalk_stock_answers_refused_total",
        "why",
        &["no_request", "other_room", "invalid_text", "no_refresh"],
    );
    zero(
        "tickertalk_logins_total",
        "result",
        &["success", "failure", "throttled"],
    );
    zero(
        "tickertalk_stock_unanswered_total",
        "why",
        &["no_bot", "broker_unreachable", "dead_letter"],
    );
    for name in [
        "tickertalk_deliveries_total",
        "tickertalk_frames_dropped_total",
        "tickertalk_broker_reconnects_total",
        "tickertalk_broker_confirm_failures_total",
        "tickertalk_gap_fills_total",
        "tickertalk_stock_commands_total",
        "tickertalk_refresh_reuse_total",
        "tickertalk_broker_unsent_dropped_total",
        "tickertalk_price_refreshes_total",
        "tickertalk_price_alerts_fired_total",
        "tickertalk_room_items_received_total",
        "tickertalk_room_items_needed_total",
        "tickertalk_direct_fills_total",
    ] {
        metrics::counter!(name).increment(0);
    }
}
