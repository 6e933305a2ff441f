/// The store's schema on PostgreSQL, as numbered migrations (its own numbering: PostgreSQL
/// migration 1 holds what SQLite migrations 1-5 built, less the readable views).
///
/// `schema_migration` records each applied migration (append-only); the version is its
/// maximum. A Pleura that finds a higher version than it knows refuses the database without
/// writing. The same rules as the SQLite schema (Sources/PleuraStore/Schema.swift), kept by the
/// server:
/// - every history table refuses UPDATE, DELETE and TRUNCATE (trigger `…_is_append_only`);
/// - `current_value` is maintained by an AFTER INSERT trigger on `event` in the same transaction,
///   and refuses any row that does not state the newest event of its key;
/// - ids are assigned as max + 1 under one transaction-level advisory lock that every writing
///   transaction takes first (as SQLite's single writer does), so ids follow commit order and the
///   newest event of a key is its highest id;
/// - `write_request` holds the client's id of each writing action: a commit retried after a
///   dropped connection finds it and returns the events already committed instead of appending again;
/// - row-level security on `event` and `current_value`: a member of `pleura_blind_rater` sees and
///   writes ratings (context ≠ 0) only of annotators created by its own database role.
enum PostgresSchema {
    /// Migration N (1-based) is `migrations[N - 1]`. Never edit a released migration; append one.
    static let migrations: [String] = [migration1]
    static var currentVersion: Int { migrations.count }

    /// The advisory lock key every writing transaction takes ('PLRA').
    static let writeLock: Int64 = 0x504C_5241

    /// Tables whose rows are never changed or removed.
    static let historyTables = ["media", "media_path", "annotator", "session", "heatmap_context", "rating_context",
                                "write_request", "event", "schema_migration"]

    /// The triggers that keep the promises, by table (checked by `verify`).
    static var protectingTriggers: [String] {
        historyTables.flatMap { ["\($0)_is_append_only", "\($0)_is_never_truncated"] }
            + ["event_sets_current_value", "current_value_is_derived", "current_value_is_never_truncated"]
    }

    private static func appendOnly(_ table: String) -> String {
        """
        CREATE TRIGGER \(table)_is_append_only BEFORE UPDATE OR DELETE ON \(table)
            FOR EACH ROW EXECUTE FUNCTION pleura_refuse_change();
        CREATE TRIGGER \(table)_is_never_truncated BEFORE TRUNCATE ON \(table)
            FOR EACH STATEMENT EXECUTE FUNCTION pleura_refuse_change();
        """
    }

    static let migration1 = """
    CREATE TABLE schema_migration (
        version        integer PRIMARY KEY,
        applied_at     text NOT NULL,
        pleura_version text NOT NULL
    );
    CREATE TABLE media (
        id            bigint PRIMARY KEY,
        sha256        text NOT NULL UNIQUE CHECK (length(sha256) = 64),
        kind          text,
        container     text,
        codec         text,
        width         bigint,
        height        bigint,
        fps           double precision,
        frames        bigint,
        bytes         bigint,
        registered_at text NOT NULL,
        os_user       text NOT NULL,
        uid           bigint NOT NULL
    );
    CREATE TABLE media_path (
        id        bigint PRIMARY KEY,
        media_id  bigint NOT NULL REFERENCES media(id),
        path      text NOT NULL,
        seen_at   text NOT NULL,
        os_user   text NOT NULL,
        uid       bigint NOT NULL
    );
    CREATE INDEX media_path_by_path ON media_path(path, id);
    CREATE INDEX media_path_by_media ON media_path(media_id, id);
    CREATE TABLE annotator (
        id         bigint PRIMARY KEY,
        name       text NOT NULL UNIQUE CHECK (length(name) > 0),
        role       text NOT NULL CHECK (role IN ('labeller', 'rater', 'trainee', 'reference', 'model')),
        created_at text NOT NULL,
        os_user    text NOT NULL,
        uid        bigint NOT NULL,
        db_role    text NOT NULL DEFAULT current_user   -- whose ratings a blinded role may see
    );
    CREATE TABLE session (
        id             bigint PRIMARY KEY,
        annotator_id   bigint NOT NULL REFERENCES annotator(id),
        name           text NOT NULL,
        mode           text NOT NULL,
        started_at     text NOT NULL,
        os_user        text NOT NULL,
        uid            bigint NOT NULL,
        host           text NOT NULL,
        pid            bigint NOT NULL,
        pleura_version text NOT NULL
    );
    CREATE TABLE heatmap_context (
        id             bigint PRIMARY KEY CHECK (id > 0),
        model_sha256   text NOT NULL,
        method         text NOT NULL,
        layer          text NOT NULL,
        target         text NOT NULL,
        heatmap_sha256 text NOT NULL,
        UNIQUE (model_sha256, method, layer, target, heatmap_sha256)
    );
    CREATE TABLE rating_context (
        id                 bigint PRIMARY KEY CHECK (id < 0),
        heatmap_context_id bigint NOT NULL REFERENCES heatmap_context(id),
        trial              text NOT NULL,
        slot               text NOT NULL CHECK (slot IN ('', 'A', 'B')),
        scale              text NOT NULL CHECK (scale IN ('seven', 'born')),
        colormap           text NOT NULL,
        opacity            text NOT NULL,
        threshold          text NOT NULL,
        UNIQUE (heatmap_context_id, trial, slot, scale, colormap, opacity, threshold)
    );
    CREATE TABLE write_request (
        id        uuid PRIMARY KEY,
        action_id bigint NOT NULL,
        at        text NOT NULL
    );
    CREATE TABLE event (
        id           bigint PRIMARY KEY,
        action_id    bigint NOT NULL,
        kind         text NOT NULL CHECK (kind IN ('set', 'import', 'undo', 'redo')),
        reverts      bigint,
        at           text NOT NULL,
        annotator_id bigint NOT NULL REFERENCES annotator(id),
        session_id   bigint NOT NULL REFERENCES session(id),
        os_user      text NOT NULL,
        uid          bigint NOT NULL,
        media_id     bigint NOT NULL REFERENCES media(id),
        frame        bigint NOT NULL CHECK (frame >= -1),
        context_id   bigint NOT NULL DEFAULT 0,
        field        text NOT NULL,
        old_value    text,
        new_value    text,
        request_id   uuid REFERENCES write_request(id)
    );
    CREATE INDEX event_by_session ON event(annotator_id, session_id, action_id);
    CREATE INDEX event_by_item ON event(media_id, frame, annotator_id);
    CREATE INDEX event_by_key ON event(media_id, frame, annotator_id, context_id, field, id);
    CREATE INDEX event_by_request ON event(request_id);
    CREATE TABLE current_value (
        media_id     bigint NOT NULL,
        frame        bigint NOT NULL,
        annotator_id bigint NOT NULL,
        context_id   bigint NOT NULL,
        field        text NOT NULL,
        value        text,
        event_id     bigint NOT NULL,
        PRIMARY KEY (media_id, frame, annotator_id, context_id, field)
    );

    CREATE FUNCTION pleura_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: history is never %', TG_TABLE_NAME,
            CASE TG_OP WHEN 'UPDATE' THEN 'changed' ELSE 'deleted' END;
    END $$;
    \(historyTables.map(appendOnly).joined(separator: "\n"))

    -- SECURITY DEFINER: runs as the owner, so row-level security never hides the row it replaces.
    CREATE FUNCTION pleura_event_sets_current_value() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        INSERT INTO current_value (media_id, frame, annotator_id, context_id, field, value, event_id)
        VALUES (NEW.media_id, NEW.frame, NEW.annotator_id, NEW.context_id, NEW.field, NEW.new_value, NEW.id)
        ON CONFLICT (media_id, frame, annotator_id, context_id, field)
        DO UPDATE SET value = EXCLUDED.value, event_id = EXCLUDED.event_id;
        RETURN NULL;
    END $$;
    CREATE TRIGGER event_sets_current_value AFTER INSERT ON event
        FOR EACH ROW EXECUTE FUNCTION pleura_event_sets_current_value();

    CREATE FUNCTION pleura_current_value_is_derived() RETURNS trigger LANGUAGE plpgsql
        SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
            RAISE EXCEPTION 'current_value is derived from the event log: it is never deleted';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM event e WHERE e.id = NEW.event_id AND e.media_id = NEW.media_id
                         AND e.frame = NEW.frame AND e.annotator_id = NEW.annotator_id
                         AND e.context_id = NEW.context_id AND e.field = NEW.field
                         AND e.new_value IS NOT DISTINCT FROM NEW.value)
           OR EXISTS (SELECT 1 FROM event e WHERE e.media_id = NEW.media_id AND e.frame = NEW.frame
                        AND e.annotator_id = NEW.annotator_id AND e.context_id = NEW.context_id
                        AND e.field = NEW.field AND e.id > NEW.event_id) THEN
            RAISE EXCEPTION 'current_value is derived from the event log: append an event instead';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER current_value_is_derived BEFORE INSERT OR UPDATE OR DELETE ON current_value
        FOR EACH ROW EXECUTE FUNCTION pleura_current_value_is_derived();
    CREATE TRIGGER current_value_is_never_truncated BEFORE TRUNCATE ON current_value
        FOR EACH STATEMENT EXECUTE FUNCTION pleura_current_value_is_derived();

    -- The next event id over all rows, also for a role that row-level security restricts.
    CREATE FUNCTION pleura_next_event_id() RETURNS bigint LANGUAGE sql STABLE
        SECURITY DEFINER SET search_path = public, pg_temp AS $$
        SELECT coalesce(max(id), 0) + 1 FROM event
    $$;

    -- Whether the current role is a blinded rater (a member of pleura_blind_rater, when that role exists).
    CREATE FUNCTION pleura_is_blinded() RETURNS boolean LANGUAGE sql STABLE AS $$
        SELECT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'pleura_blind_rater'
                       AND pg_has_role(current_user, r.oid, 'MEMBER'))
    $$;
    -- The annotators whose ratings the current role may see: those its own database role created.
    CREATE FUNCTION pleura_own_annotators() RETURNS SETOF bigint LANGUAGE sql STABLE AS $$
        SELECT id FROM annotator WHERE db_role = current_user
    $$;
    ALTER TABLE event ENABLE ROW LEVEL SECURITY;
    ALTER TABLE current_value ENABLE ROW LEVEL SECURITY;
    CREATE POLICY event_read ON event FOR SELECT
        USING (context_id = 0 OR NOT pleura_is_blinded() OR annotator_id IN (SELECT pleura_own_annotators()));
    CREATE POLICY event_append ON event FOR INSERT
        WITH CHECK (NOT pleura_is_blinded() OR annotator_id IN (SELECT pleura_own_annotators()));
    CREATE POLICY current_value_read ON current_value FOR SELECT
        USING (context_id = 0 OR NOT pleura_is_blinded() OR annotator_id IN (SELECT pleura_own_annotators()));
    """

    /// Group roles (cluster-wide, created when missing) and their rights on this database:
    /// `pleura_annotator` may read and append, never change (no UPDATE, DELETE, TRUNCATE;
    /// `current_value` is read-only: the trigger writes it); `pleura_blind_rater` the same, and
    /// row-level security limits the ratings it sees to its own. Login roles are made members:
    /// `CREATE ROLE rita LOGIN IN ROLE pleura_blind_rater`.
    static func roles(database: String) -> String {
        let tables = ["media", "media_path", "annotator", "session", "heatmap_context", "rating_context",
                      "write_request", "event"].joined(separator: ", ")
        let quoted = "\"" + database.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        return """
        DO $$ BEGIN CREATE ROLE pleura_annotator NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
        DO $$ BEGIN CREATE ROLE pleura_blind_rater NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
        GRANT CONNECT ON DATABASE \(quoted) TO pleura_annotator, pleura_blind_rater;
        GRANT USAGE ON SCHEMA public TO pleura_annotator, pleura_blind_rater;
        REVOKE ALL ON \(tables), current_value, schema_migration FROM pleura_annotator, pleura_blind_rater;
        GRANT SELECT, INSERT ON \(tables) TO pleura_annotator, pleura_blind_rater;
        GRANT SELECT ON current_value, schema_migration TO pleura_annotator, pleura_blind_rater;
        """
    }
}
