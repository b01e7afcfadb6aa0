--
-- PostgreSQL database dump
--

--
-- Name: search_text(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.search_text(body text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
    SELECT CASE WHEN strpos(body, '$') = 0 AND strpos(body, '@') = 0 THEN body
                ELSE regexp_replace(
                         regexp_replace(body, '\$([A-Za-z][A-Za-z0-9]{0,15})', '\1 zzcashtag\1', 'g'),
                         '@([A-Za-z][A-Za-z0-9_]{2,31})', '\1 zzmention\1', 'g') END
$_$;


--
-- Name: api_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.api_keys (
    access_key_id text NOT NULL,
    session_id uuid NOT NULL,
    user_id bigint NOT NULL,
    secret_sealed bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    modified_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL
);


--
-- Name: direct_messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.direct_messages (
    id bigint NOT NULL,
    author_id bigint NOT NULL,
    recipient_id bigint NOT NULL,
    body text NOT NULL,
    message_type smallint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    client_id text,
    edited_at timestamp with time zone,
    deleted_at timestamp with time zone,
    search tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, public.search_text(body))) STORED,
    CONSTRAINT direct_messages_client_id_check CHECK (((length(client_id) >= 1) AND (length(client_id) <= 64)))
);


--
-- Name: direct_messages_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.direct_messages ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.direct_messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: direct_reactions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.direct_reactions (
    message_id bigint NOT NULL,
    user_id bigint NOT NULL,
    emoji text NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT direct_reactions_emoji_check CHECK (((length(emoji) >= 1) AND (length(emoji) <= 32)))
);


--
-- Name: dm_read_markers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.dm_read_markers (
    user_id bigint NOT NULL,
    peer_id bigint NOT NULL,
    last_read_id bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: instances; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.instances (
    id uuid NOT NULL,
    heartbeat_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: rate_budgets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rate_budgets (
    key text NOT NULL,
    spent integer NOT NULL,
    window_end timestamp with time zone NOT NULL
);


--
-- Name: read_markers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.read_markers (
    user_id bigint NOT NULL,
    room_id bigint NOT NULL,
    last_read_id bigint NOT NULL,
    last_read_seq bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: retired_refresh_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.retired_refresh_tokens (
    hash bytea NOT NULL,
    session_id uuid NOT NULL,
    retired_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: room_members; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.room_members (
    room_id bigint NOT NULL,
    user_id bigint NOT NULL,
    joined_at timestamp with time zone DEFAULT now() NOT NULL,
    left_at timestamp with time zone
);


--
-- Name: room_messages; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.room_messages (
    id bigint NOT NULL,
    room_id bigint NOT NULL,
    seq bigint NOT NULL,
    user_id bigint NOT NULL,
    body text NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    client_id text,
    bot_meta jsonb,
    rev bigint NOT NULL,
    changed_rev bigint,
    edited_at timestamp with time zone,
    deleted_at timestamp with time zone,
    reply_to bigint,
    search tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, public.search_text(body))) STORED,
    CONSTRAINT room_messages_client_id_check CHECK (((length(client_id) >= 1) AND (length(client_id) <= 64)))
);


--
-- Name: room_messages_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.room_messages ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.room_messages_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: room_presence; Type: TABLE; Schema: public; Owner: -
--

CREATE UNLOGGED TABLE public.room_presence (
    conn_id uuid NOT NULL,
    room_id bigint NOT NULL,
    instance_id uuid NOT NULL,
    user_id bigint NOT NULL
);


--
-- Name: room_reactions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.room_reactions (
    message_id bigint NOT NULL,
    user_id bigint NOT NULL,
    emoji text NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    CONSTRAINT room_reactions_emoji_check CHECK (((length(emoji) >= 1) AND (length(emoji) <= 32)))
);


--
-- Name: rooms; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.rooms (
    id bigint NOT NULL,
    name text NOT NULL,
    created_by bigint,
    last_seq bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    last_rev bigint DEFAULT 0 NOT NULL,
    topic text DEFAULT ''::text NOT NULL,
    CONSTRAINT rooms_topic_check CHECK ((length(topic) <= 250))
);


--
-- Name: rooms_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.rooms ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.rooms_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sessions (
    id uuid NOT NULL,
    user_id bigint NOT NULL,
    refresh_hash bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    refreshed_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone
);


--
-- Name: stock_alerts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_alerts (
    id bigint NOT NULL,
    room_id bigint NOT NULL,
    user_id bigint NOT NULL,
    symbol text NOT NULL,
    op text NOT NULL,
    threshold numeric NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    fired_at timestamp with time zone,
    fired_price numeric,
    fired_quote jsonb,
    message_id bigint,
    CONSTRAINT stock_alerts_op_check CHECK ((op = ANY (ARRAY['>'::text, '<'::text, '%'::text]))),
    CONSTRAINT stock_alerts_symbol_check CHECK (((length(symbol) >= 1) AND (length(symbol) <= 20))),
    CONSTRAINT stock_alerts_threshold_check CHECK ((threshold > (0)::numeric))
);


--
-- Name: stock_alerts_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.stock_alerts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: stock_alerts_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.stock_alerts_id_seq OWNED BY public.stock_alerts.id;


--
-- Name: stock_prices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_prices (
    symbol text NOT NULL,
    quote jsonb NOT NULL,
    refreshed_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: stock_refreshes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_refreshes (
    refresh_id uuid NOT NULL,
    symbols text[] NOT NULL,
    asked_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: stock_requests; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_requests (
    request_id uuid NOT NULL,
    room_id bigint NOT NULL,
    user_id bigint NOT NULL,
    username text NOT NULL,
    command text NOT NULL,
    asked_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: stock_schedule; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_schedule (
    name text NOT NULL,
    due_at timestamp with time zone NOT NULL
);


--
-- Name: stock_watches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.stock_watches (
    room_id bigint NOT NULL,
    symbol text NOT NULL,
    added_by bigint,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT stock_watches_symbol_check CHECK (((length(symbol) >= 1) AND (length(symbol) <= 20)))
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    id bigint NOT NULL,
    username text NOT NULL,
    email text NOT NULL,
    password_hash text NOT NULL,
    first_name text,
    last_name text,
    phone text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: users_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


--
-- Name: stock_alerts id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_alerts ALTER COLUMN id SET DEFAULT nextval('public.stock_alerts_id_seq'::regclass);


--
-- Name: api_keys api_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (access_key_id);


--
-- Name: direct_messages direct_messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.direct_messages
    ADD CONSTRAINT direct_messages_pkey PRIMARY KEY (id);


--
-- Name: direct_reactions direct_reactions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.direct_reactions
    ADD CONSTRAINT direct_reactions_pkey PRIMARY KEY (message_id, emoji, user_id);


--
-- Name: dm_read_markers dm_read_markers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dm_read_markers
    ADD CONSTRAINT dm_read_markers_pkey PRIMARY KEY (user_id, peer_id);


--
-- Name: instances instances_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.instances
    ADD CONSTRAINT instances_pkey PRIMARY KEY (id);


--
-- Name: rate_budgets rate_budgets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rate_budgets
    ADD CONSTRAINT rate_budgets_pkey PRIMARY KEY (key);


--
-- Name: read_markers read_markers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.read_markers
    ADD CONSTRAINT read_markers_pkey PRIMARY KEY (user_id, room_id);


--
-- Name: retired_refresh_tokens retired_refresh_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.retired_refresh_tokens
    ADD CONSTRAINT retired_refresh_tokens_pkey PRIMARY KEY (hash);


--
-- Name: room_members room_members_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_members
    ADD CONSTRAINT room_members_pkey PRIMARY KEY (room_id, user_id);


--
-- Name: room_messages room_messages_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_messages
    ADD CONSTRAINT room_messages_pkey PRIMARY KEY (id);


--
-- Name: room_messages room_messages_room_seq_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_messages
    ADD CONSTRAINT room_messages_room_seq_key UNIQUE (room_id, seq);


--
-- Name: room_presence room_presence_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_presence
    ADD CONSTRAINT room_presence_pkey PRIMARY KEY (conn_id, room_id);


--
-- Name: room_reactions room_reactions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_reactions
    ADD CONSTRAINT room_reactions_pkey PRIMARY KEY (message_id, emoji, user_id);


--
-- Name: rooms rooms_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_pkey PRIMARY KEY (id);


--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);


--
-- Name: stock_alerts stock_alerts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_alerts
    ADD CONSTRAINT stock_alerts_pkey PRIMARY KEY (id);


--
-- Name: stock_prices stock_prices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_prices
    ADD CONSTRAINT stock_prices_pkey PRIMARY KEY (symbol);


--
-- Name: stock_refreshes stock_refreshes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_refreshes
    ADD CONSTRAINT stock_refreshes_pkey PRIMARY KEY (refresh_id);


--
-- Name: stock_requests stock_requests_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_requests
    ADD CONSTRAINT stock_requests_pkey PRIMARY KEY (request_id);


--
-- Name: stock_schedule stock_schedule_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_schedule
    ADD CONSTRAINT stock_schedule_pkey PRIMARY KEY (name);


--
-- Name: stock_watches stock_watches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_watches
    ADD CONSTRAINT stock_watches_pkey PRIMARY KEY (room_id, symbol);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: api_keys_session_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX api_keys_session_id_idx ON public.api_keys USING btree (session_id);


--
-- Name: direct_messages_author_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX direct_messages_author_idx ON public.direct_messages USING btree (author_id, created_at DESC);


--
-- Name: direct_messages_client_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX direct_messages_client_id_key ON public.direct_messages USING btree (client_id, author_id) WHERE (client_id IS NOT NULL);


--
-- Name: direct_messages_pair_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX direct_messages_pair_idx ON public.direct_messages USING btree (LEAST(author_id, recipient_id), GREATEST(author_id, recipient_id), created_at DESC, id DESC);


--
-- Name: direct_messages_recipient_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX direct_messages_recipient_idx ON public.direct_messages USING btree (recipient_id, created_at DESC);


--
-- Name: direct_messages_search; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX direct_messages_search ON public.direct_messages USING gin (search) WITH (gin_pending_list_limit='128');


--
-- Name: direct_messages_unread_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX direct_messages_unread_idx ON public.direct_messages USING btree (recipient_id, author_id, id);


--
-- Name: rate_budgets_window_end; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX rate_budgets_window_end ON public.rate_budgets USING btree (window_end);


--
-- Name: retired_refresh_tokens_session; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX retired_refresh_tokens_session ON public.retired_refresh_tokens USING btree (session_id);


--
-- Name: room_members_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_members_user ON public.room_members USING btree (user_id);


--
-- Name: room_messages_client_id_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX room_messages_client_id_key ON public.room_messages USING btree (client_id, user_id) WHERE (client_id IS NOT NULL);


--
-- Name: room_messages_room_changed_rev; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX room_messages_room_changed_rev ON public.room_messages USING btree (room_id, changed_rev) WHERE (changed_rev IS NOT NULL);


--
-- Name: room_messages_room_rev; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX room_messages_room_rev ON public.room_messages USING btree (room_id, rev);


--
-- Name: room_messages_room_time_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_messages_room_time_idx ON public.room_messages USING btree (room_id, created_at DESC, id DESC);


--
-- Name: room_messages_search; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_messages_search ON public.room_messages USING gin (search) WITH (gin_pending_list_limit='128');


--
-- Name: room_presence_room_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX room_presence_room_idx ON public.room_presence USING btree (room_id);


--
-- Name: rooms_name_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX rooms_name_key ON public.rooms USING btree (lower(name));


--
-- Name: sessions_refresh_hash_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX sessions_refresh_hash_key ON public.sessions USING btree (refresh_hash);


--
-- Name: sessions_user_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sessions_user_id_idx ON public.sessions USING btree (user_id);


--
-- Name: stock_alerts_active; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_alerts_active ON public.stock_alerts USING btree (symbol) WHERE (fired_at IS NULL);


--
-- Name: stock_alerts_room_active; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_alerts_room_active ON public.stock_alerts USING btree (room_id) WHERE (fired_at IS NULL);


--
-- Name: stock_alerts_unposted; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_alerts_unposted ON public.stock_alerts USING btree (id) WHERE ((fired_at IS NOT NULL) AND (message_id IS NULL));


--
-- Name: stock_alerts_user_active; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_alerts_user_active ON public.stock_alerts USING btree (user_id) WHERE (fired_at IS NULL);


--
-- Name: stock_refreshes_asked_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_refreshes_asked_at ON public.stock_refreshes USING btree (asked_at);


--
-- Name: stock_requests_asked_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_requests_asked_at ON public.stock_requests USING btree (asked_at);


--
-- Name: stock_watches_symbol; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX stock_watches_symbol ON public.stock_watches USING btree (symbol);


--
-- Name: users_email_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON public.users USING btree (lower(email));


--
-- Name: users_username_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX users_username_key ON public.users USING btree (lower(username));


--
-- Name: api_keys api_keys_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;


--
-- Name: api_keys api_keys_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.api_keys
    ADD CONSTRAINT api_keys_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: direct_messages direct_messages_author_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.direct_messages
    ADD CONSTRAINT direct_messages_author_id_fkey FOREIGN KEY (author_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: direct_messages direct_messages_recipient_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.direct_messages
    ADD CONSTRAINT direct_messages_recipient_id_fkey FOREIGN KEY (recipient_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: direct_reactions direct_reactions_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.direct_reactions
    ADD CONSTRAINT direct_reactions_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.direct_messages(id) ON DELETE CASCADE;


--
-- Name: direct_reactions direct_reactions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.direct_reactions
    ADD CONSTRAINT direct_reactions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: dm_read_markers dm_read_markers_peer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dm_read_markers
    ADD CONSTRAINT dm_read_markers_peer_id_fkey FOREIGN KEY (peer_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: dm_read_markers dm_read_markers_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.dm_read_markers
    ADD CONSTRAINT dm_read_markers_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: read_markers read_markers_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.read_markers
    ADD CONSTRAINT read_markers_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: read_markers read_markers_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.read_markers
    ADD CONSTRAINT read_markers_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: retired_refresh_tokens retired_refresh_tokens_session_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.retired_refresh_tokens
    ADD CONSTRAINT retired_refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.sessions(id) ON DELETE CASCADE;


--
-- Name: room_members room_members_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_members
    ADD CONSTRAINT room_members_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: room_members room_members_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_members
    ADD CONSTRAINT room_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: room_messages room_messages_reply_to_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_messages
    ADD CONSTRAINT room_messages_reply_to_fkey FOREIGN KEY (reply_to) REFERENCES public.room_messages(id) ON DELETE SET NULL;


--
-- Name: room_messages room_messages_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_messages
    ADD CONSTRAINT room_messages_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: room_messages room_messages_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_messages
    ADD CONSTRAINT room_messages_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id);


--
-- Name: room_presence room_presence_instance_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_presence
    ADD CONSTRAINT room_presence_instance_id_fkey FOREIGN KEY (instance_id) REFERENCES public.instances(id) ON DELETE CASCADE;


--
-- Name: room_reactions room_reactions_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_reactions
    ADD CONSTRAINT room_reactions_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.room_messages(id) ON DELETE CASCADE;


--
-- Name: room_reactions room_reactions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.room_reactions
    ADD CONSTRAINT room_reactions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: rooms rooms_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.rooms
    ADD CONSTRAINT rooms_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: stock_alerts stock_alerts_message_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_alerts
    ADD CONSTRAINT stock_alerts_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.room_messages(id) ON DELETE SET NULL;


--
-- Name: stock_alerts stock_alerts_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_alerts
    ADD CONSTRAINT stock_alerts_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: stock_alerts stock_alerts_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_alerts
    ADD CONSTRAINT stock_alerts_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: stock_requests stock_requests_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_requests
    ADD CONSTRAINT stock_requests_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- Name: stock_requests stock_requests_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_requests
    ADD CONSTRAINT stock_requests_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;


--
-- Name: stock_watches stock_watches_added_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_watches
    ADD CONSTRAINT stock_watches_added_by_fkey FOREIGN KEY (added_by) REFERENCES public.users(id) ON DELETE SET NULL;


--
-- Name: stock_watches stock_watches_room_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.stock_watches
    ADD CONSTRAINT stock_watches_room_id_fkey FOREIGN KEY (room_id) REFERENCES public.rooms(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--
